-- Header actions become header edits at end of message.
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"},
		{{"X-Test-Edit", "1"}, {"Subject", "hi"}, {"X-Remove", "secret"}}, "hello\r\n")
	expect_reply(conn, SMFIR_ACCEPT, "eom")
	check(mt.eom_check(conn, MT_HDRADD, "X-Added", "yes"), "X-Added: yes not added")
	check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[tagged] hi"), "Subject not changed")
	check(mt.eom_check(conn, MT_HDRDELETE, "X-Remove"), "X-Remove not deleted")
	mt.disconnect(conn)
end)
