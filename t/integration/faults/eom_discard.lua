-- One message (X-Case: global "case") that the policy quarantines to a
-- folder and then discards.
dofile(dir .. "/../milter/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"},
		{{"X-Case", case}, {"Subject", "privilege test"}}, "privilege test body\r\n")
	expect_reply(conn, SMFIR_DISCARD, "eom")
	mt.disconnect(conn)
end)
