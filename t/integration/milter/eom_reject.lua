-- A reject at end of message carries the policy's code, status and text ('%' intact).
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"X-Test-Reject", "1"}}, "hello\r\n")
	-- miltertest keeps no copy of a final reply's text: the shell test
	-- checks it in the milter's log line.
	expect_reply(conn, SMFIR_REPLYCODE, "eom")
	mt.disconnect(conn)
end)
