# mk/bench.mk - "make bench": benchmark milter-delegate against Postfix alone,
# clamav-milter and clamsmtpd on loopback (bench/run.sh; issue 6). Results go
# to bench/results/<timestamp>.json. Message counts and sizes come from the
# environment (BENCH_MESSAGES, BENCH_SESSIONS, ...; see bench/run.sh).
bench: all
	MD_TOP=$(CURDIR) MD_BUILD=$(abspath $(B)) bench/run.sh
