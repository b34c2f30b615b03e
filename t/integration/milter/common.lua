-- common.lua - helpers shared by the miltertest scripts: connect to the
-- milter named by the global "sock", walk a message through the stages the
-- milter negotiated, and fail loudly (error) on any unexpected reply.

function connect_milter()
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then
		error("cannot connect to the milter at " .. sock)
	end
	local err = mt.negotiate(conn, nil, nil, nil)
	if err ~= nil then
		error("negotiate: " .. err)
	end
	return conn
end

function check(ok, what)
	if not ok then
		error(what)
	end
end

-- expect_reply - the last reply of CONN is WANT (an SMFIR_* constant).
function expect_reply(conn, want, stage)
	local got = mt.getreply(conn)
	if got ~= want then
		error(string.format("%s: reply %s, expected %s", stage, tostring(got), tostring(want)))
	end
end

-- send_stage - call FN unless the milter negotiated the step away (SKIP_OPTION).
function send_stage(conn, skip_option, fn, ...)
	if skip_option ~= nil and mt.test_option(conn, skip_option) then
		return
	end
	local err = fn(conn, ...)
	if err ~= nil then
		error(err)
	end
end

-- message - connect info, helo, envelope, headers (a table of {name, value}), body.
function message(conn, from, rcpts, headers, body)
	send_stage(conn, nil, mt.conninfo, "client.example.org", "192.0.2.10")
	expect_reply(conn, SMFIR_CONTINUE, "connect")
	send_stage(conn, SMFIP_NOHELO, mt.helo, "client.example.org")
	send_stage(conn, nil, mt.mailfrom, from)
	expect_reply(conn, SMFIR_CONTINUE, "mail")
	for _, r in ipairs(rcpts) do
		send_stage(conn, SMFIP_NORCPT, mt.rcptto, r)
	end
	for _, h in ipairs(headers) do
		send_stage(conn, SMFIP_NOHDRS, mt.header, h[1], h[2])
	end
	send_stage(conn, SMFIP_NOEOH, mt.eoh)
	send_stage(conn, SMFIP_NOBODY, mt.bodystring, body)
	local err = mt.eom(conn)
	if err ~= nil then
		error(err)
	end
end

-- run - call the test function F, print "ok"/"not ok - reason", exit 1 on failure.
function run(f)
	local ok, err = pcall(f)
	if ok then
		mt.echo("ok")
	else
		mt.echo("not ok - " .. tostring(err))
		os.exit(1)
	end
end
