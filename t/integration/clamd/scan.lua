-- One message scanned by the clamd service named by the global "service"
-- (its X-Service header). The body is "body" ("eicar": the EICAR string;
-- with "boundary" set the message is multipart/mixed with that boundary),
-- repeated "times" times (default 1). With "code" set the end-of-message
-- reply must be code/ecode/reply; without, the message must be accepted
-- with X-Virus-Scanned imported and the follow-up's X-Scan-Result added.
dofile(dir .. "/../milter/common.lua")
run(function()
	local conn = connect_milter()
	local text = body
	if body == "eicar" then
		text = eicar .. "\r\n"
	end
	text = string.rep(text, tonumber(times or "1"))
	local headers = {{"X-Service", service}, {"Subject", "test"}}
	if boundary ~= nil then
		table.insert(headers, {"MIME-Version", "1.0"})
		table.insert(headers, {"Content-Type", "multipart/mixed; boundary=\"" .. boundary .. "\""})
	end
	message(conn, "<a@example.com>", {"<b@example.com>"}, headers, text)
	if code == nil then
		expect_reply(conn, SMFIR_ACCEPT, "eom")
		check(mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned", "ClamAV (clamd)"),
		      "X-Virus-Scanned was not imported")
		check(mt.eom_check(conn, MT_HDRADD, "X-Scan-Result", "clean"), "the follow-up did not run")
	else
		expect_reply(conn, SMFIR_REPLYCODE, "eom")
		check(mt.eom_check(conn, MT_SMTPREPLY, code, ecode, reply),
		      "the reply is not " .. code .. " " .. ecode .. " " .. reply)
	end
	mt.disconnect(conn)
end)
