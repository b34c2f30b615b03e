-- A clean message goes through clamsmtpd (Action: pass), comes back, and the
-- follow-up runs on the copy: X-Virus-Scanned is imported, X-Scan-Result added.
-- The global "service" (default "pass") is its X-Service header.
dofile(dir .. "/../milter/common.lua")
run(function()
	local conn = connect_milter()
	message(conn, "<a@example.com>", {"<b@example.com>"},
		{{"X-Service", service or "pass"}, {"Subject", "clean"}}, "A clean message.\r\n")
	expect_reply(conn, SMFIR_ACCEPT, "eom")
	check(mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned", "ClamAV using ClamSMTP"),
	      "X-Virus-Scanned was not imported")
	check(mt.eom_check(conn, MT_HDRADD, "X-Scan-Result", "clean"), "the follow-up did not run")
	mt.disconnect(conn)
end)
