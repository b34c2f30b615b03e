-- quarantine "then": "hold" asks the MTA to quarantine (Postfix: hold queue) and accepts.
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"X-Test-Hold", "1"}}, "hello\r\n")
	expect_reply(conn, SMFIR_ACCEPT, "eom")
	check(mt.eom_check(conn, MT_QUARANTINE, "held by test"), "no quarantine request with the reason")
	mt.disconnect(conn)
end)
