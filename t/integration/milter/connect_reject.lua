-- A client address listed in a connect rule is refused with the rule's reply.
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	send_stage(conn, nil, mt.conninfo, "bad.example", "192.0.2.66")
	expect_reply(conn, SMFIR_REPLYCODE, "connect")
	mt.disconnect(conn)
end)
