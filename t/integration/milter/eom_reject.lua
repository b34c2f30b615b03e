-- A reject at end of message carries the policy's code, status and text ('%' intact).
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"X-Test-Reject", "1"}}, "hello\r\n")
	expect_reply(conn, SMFIR_REPLYCODE, "eom")
	check(mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.0", "554 5.7.0 Refused 100% sure"),
	      "reply is not 554 5.7.0 Refused 100% sure")
	mt.disconnect(conn)
end)
