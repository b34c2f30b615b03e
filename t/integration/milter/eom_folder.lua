-- quarantine to a folder, then discard (the folder copy is checked by the shell test).
dofile(dir .. "/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"}, {{"X-Test-Folder", "1"}}, "hello folder\r\n")
	expect_reply(conn, SMFIR_DISCARD, "eom")
	mt.disconnect(conn)
end)
