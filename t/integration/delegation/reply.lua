-- A message whose end-of-message reply must be a custom SMTP reply: the
-- X-Service header (global "service") picks the delegation, the body
-- (global "body", "eicar" for the EICAR string) what is scanned, and
-- "code", "ecode", "reply" the reply expected. With "boundary" set the
-- message is multipart/mixed with that boundary.
dofile(dir .. "/../milter/common.lua")
run(function()
	local conn = connect_milter()
	local text = body
	if body == "eicar" then
		text = eicar .. "\r\n"
	end
	local headers = {{"X-Service", service}, {"Subject", "test"}}
	if boundary ~= nil then
		table.insert(headers, {"MIME-Version", "1.0"})
		table.insert(headers, {"Content-Type", "multipart/mixed; boundary=\"" .. boundary .. "\""})
	end
	message(conn, "<a@example.com>", {"<b@example.com>"}, headers, text)
	expect_reply(conn, SMFIR_REPLYCODE, "eom")
	check(mt.eom_check(conn, MT_SMTPREPLY, code, ecode, reply),
	      "the reply is not " .. code .. " " .. ecode .. " " .. reply)
	mt.disconnect(conn)
end)
