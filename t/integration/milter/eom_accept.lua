-- A message no rule decides is accepted, unchanged.
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"Subject", "hi"}}, "hello\r\n")
	expect_reply(conn, SMFIR_ACCEPT, "eom")
	check(not mt.eom_check(conn, MT_HDRADD), "a header was added")
	mt.disconnect(conn)
end)
