-- A delegation to a filter that is down ends in on_error: tempfail 451 4.7.1.
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"X-Test-Delegate", "1"}}, "hello\r\n")
	expect_reply(conn, SMFIR_REPLYCODE, "eom")
	mt.disconnect(conn)
end)
