# metrics.sh - read and check the daemons' /metrics and JSON logs in
# integration tests (084, 085). Source after peers.sh (uses its TAP helpers).
#
# HTTP is spoken with bash's /dev/tcp, so the tests need no HTTP client;
# every request says "Connection: close" and is cut off after 10 s.

# metrics_require - promtool (Debian's prometheus) and jq, or skip the test.
metrics_require() {
	command -v promtool >/dev/null || skip_all "promtool not installed (apt-get install prometheus)"
	command -v jq >/dev/null || skip_all "jq not installed"
}

# metrics_http PORT REQUEST - send the raw REQUEST to 127.0.0.1:PORT; print the whole response.
metrics_http() {
	# Read while writing: a server that answers an oversized request before
	# reading it all resets the connection, which would drop an unread answer.
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		cat <&3 &
		printf "%s" "$2" >&3 2>/dev/null
		wait' _ "$1" "$2"
}

# metrics_status PORT REQUEST - the status code of REQUEST's response.
metrics_status() {
	metrics_http "$1" "$2" | head -1 | awk '{ print $2 }'
}

# metrics_scrape PORT - GET /metrics; print the body; non-zero unless 200.
metrics_scrape() {
	local out
	out=$(metrics_http "$1" $'GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
	[[ $out == "HTTP/1.1 200 "* ]] || return 1
	printf '%s\n' "${out#*$'\r\n\r\n'}"
}

# metrics_value FILE SERIES - the value of SERIES (name and labels, exactly) in FILE.
metrics_value() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF; exit }' "$1"
}

# metrics_promtool FILE DESC - promtool check metrics accepts FILE.
metrics_promtool() {
	local out
	if out=$(promtool check metrics <"$1" 2>&1); then ok "$2"; else not_ok "$2" "$out"; fi
}

# metrics_http_checks PORT - hostile and wrong requests get their 4xx.
metrics_http_checks() {
	local port=$1 big
	big=$(head -c 40000 /dev/zero | tr '\0' a)
	is "$(metrics_status "$port" $'GET /metrics HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n')" 400 \
		"a header line without a colon gets 400"
	is "$(metrics_status "$port" $'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n')" 400 \
		"an HTTP/1.1 request without Host gets 400"
	is "$(metrics_status "$port" "GET /metrics HTTP/1.1"$'\r\nHost: x\r\nX-Big: '"$big"$'\r\n\r\n')" \
		431 "a 40 KB header gets 431"
	is "$(metrics_status "$port" "GET /$big HTTP/1.1"$'\r\nHost: x\r\n\r\n')" 414 \
		"a 40 KB path gets 414"
	# libmicrohttpd would close it without a word; the gate in front answers (http_gate.h).
	is "$(metrics_status "$port" $'GARBAGE\r\n\r\n')" 400 \
		"a one-word request line gets 400"
	is "$(metrics_status "$port" $'\x16\x03\x01\x02\x05\x01')" 400 \
		"bytes that are not HTTP at all (a TLS hello) get 400 at once"
	is "$(metrics_status "$port" $'POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab')" \
		405 "POST gets 405"
	is "$(metrics_status "$port" $'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
		404 "another path gets 404"
}

# metrics_json_log_checks LOG N FIELDS - every line of LOG is a JSON object
# with level and message; at least N lines have a queue_id, and each of
# those has every one of the space-separated FIELDS.
metrics_json_log_checks() {
	local log=$1 n=$2 fields=$3 bad count missing f
	bad=$(while IFS= read -r line; do
		jq -e 'type == "object" and (.level | type == "string") and (.message | type == "string")' \
			<<<"$line" >/dev/null 2>&1 || printf '%s\n' "$line"
	done <"$log")
	is "$bad" "" "every log line is a JSON object with level and message"
	count=$(jq -c 'select(has("queue_id"))' "$log" | wc -l)
	check "at least $n per-message lines ($count)" test "$count" -ge "$n"
	missing=
	for f in $fields; do
		jq -e --arg f "$f" 'select(has("queue_id")) | has($f)' "$log" | grep -q false &&
			missing+=" $f"
	done
	is "$missing" "" "each per-message line has: $fields"
	check "the rules field is an array" \
		bash -c "! jq -e 'select(has(\"queue_id\")) | .rules | type == \"array\"' '$log' | grep -q false"
}
