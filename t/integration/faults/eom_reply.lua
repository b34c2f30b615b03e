-- One message whose end-of-message reply must be the SMTP reply given by
-- the globals "code", "ecode" and "reply"; the header X-Case (global "case")
-- picks the policy rule.
dofile(dir .. "/../milter/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"},
		{{"X-Case", case}, {"Subject", "fault test"}}, "fault test body\r\n")
	expect_reply(conn, SMFIR_REPLYCODE, "eom")
	check(mt.eom_check(conn, MT_SMTPREPLY, code, ecode, reply),
	      "the reply is not " .. code .. " " .. ecode .. " " .. reply)
	mt.disconnect(conn)
end)
