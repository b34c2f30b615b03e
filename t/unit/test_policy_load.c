/*
 * test_policy_load.c - loading policies: what loads, and the exact message
 * for each kind of mistake (file:line:column: path: expected ...).
 */
#include "test_support.h"

#include <sys/stat.h>

#include <unistd.h>

#define SVC "\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:10026\"}," \
	    "\"receiver\":\"127.0.0.1:10025\"}}"

static void test_default_policy_loads_with_its_delegation(void **state)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file("policies/default.json", &errs);
	const struct action *a;

	(void)state;
	assert_int_equal(errs.count, 0);
	assert_non_null(p);
	assert_int_equal(p->service_count, 1);
	assert_string_equal(p->services[0].name, "clamsmtpd");
	assert_string_equal(p->services[0].members[0].address.host, "127.0.0.1");
	assert_int_equal(p->services[0].members[0].address.port, 10026);
	assert_int_equal(p->services[0].timeout_ms, 60000);
	assert_int_equal(p->services[0].receiver.port, 10025);
	assert_int_equal(p->stages[STAGE_EOM].count, 1);
	assert_int_equal(p->stage_mask, 1u << STAGE_EOM);
	a = &p->stages[STAGE_EOM].items[0].then.items[0];
	assert_int_equal(a->kind, ACT_DELEGATE);
	assert_ptr_equal(a->u.delegate.service, &p->services[0]);
	assert_int_equal(a->u.delegate.followup.count, 1);
	assert_int_equal(a->u.delegate.import_count, 1);
	assert_string_equal(a->u.delegate.imports[0].name, "X-Virus-Scanned");
	assert_int_equal(a->u.delegate.on_timeout.items[0].kind, ACT_TEMPFAIL);
	assert_int_equal(a->u.delegate.on_timeout.items[0].u.reply.code, 451);
	assert_int_equal(a->u.delegate.followup.items[0].then.items[0].kind, ACT_QUARANTINE);
	assert_string_equal(a->u.delegate.followup.items[0].then.items[0].u.quarantine.folder, "virus_q");
	assert_int_equal(p->rule_count, 2);
	policy_unref(p);
}

static void test_syntax_error_names_line_and_column(void **state)
{
	(void)state;
	assert_load_error("{\n  \"stages\": {},\n}\n",
			  "test.json:3:1: syntax error: string or '}' expected near '}'");
}

static void test_duplicate_key_is_a_syntax_error(void **state)
{
	(void)state;
	assert_load_error("{\"stages\": {}, \"stages\": {}}",
			  "test.json:1:23: syntax error: duplicate object key near '\"stages\"'");
}

static void test_top_level_must_be_an_object(void **state)
{
	(void)state;
	assert_load_error("[1]", "test.json:1:1: (top): expected a policy object at the top level, got an array");
}

static void test_unknown_top_level_key_lists_the_valid_ones(void **state)
{
	(void)state;
	assert_load_error("{\"stages\": {},\n \"stagse\": {}}",
			  "test.json:2:2: stagse: unknown key \"stagse\"; expected one of: "
			  "version, settings, services, stages, comment");
}

static void test_missing_stages(void **state)
{
	(void)state;
	assert_load_error("{}", "test.json:1:1: stages: missing key \"stages\" "
			  "(expected an object of stage name -> rules)");
}

static void test_unknown_stage(void **state)
{
	(void)state;
	assert_load_error("{\"stages\": {\"postq\": []}}",
			  "test.json:1:13: stages.postq: unknown stage \"postq\"; expected one of: "
			  "connect, helo, mail, rcpt, headers, eom");
}

static void test_unknown_service_lists_the_defined_ones(void **state)
{
	(void)state;
	assert_load_error("{" SVC ",\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"clamav\"}}]}}",
			  "test.json:1:163: stages.eom[0].then.service: unknown service \"clamav\"; "
			  "defined services: av");
}

static void test_bad_cidr(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"connect\":[{\"if\":{\"client_ip\":[\"10.0.0.0/8\",\"10.0.0.0/33\"]},\"then\":\"accept\"}]}}",
			  "test.json:1:56: stages.connect[0].if.client_ip[1]: invalid network "
			  "\"10.0.0.0/33\": prefix length out of range (expected CIDR such as "
			  "192.0.2.0/24 or 2001:db8::/32)");
}

static void test_regex_that_does_not_compile(void **state)
{
	char *got;

	(void)state;
	got = load_errors_joined("{\"stages\":{\"mail\":[{\"if\":{\"sender\":{\"regex\":\"(\"}},\"then\":\"reject\"}]}}");
	assert_non_null(strstr(got, "test.json:1:45: stages.mail[0].if.sender.regex: "));
	free(got);
}

static void test_reject_needs_a_5xx_code(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"then\":{\"action\":\"reject\",\"code\":450}}]}}",
			  "test.json:1:54: stages.mail[0].then.code: reply code 450 does not fit "
			  "reject: expected 5xx (for example 550)");
}

static void test_tempfail_needs_a_4xx_code(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"then\":{\"action\":\"tempfail\",\"code\":550}}]}}",
			  "test.json:1:56: stages.mail[0].then.code: reply code 550 does not fit "
			  "tempfail: expected 4xx (for example 451)");
}

static void test_enhanced_status_must_match_the_code(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"then\":{\"action\":\"reject\",\"status\":\"4.7.1\"}}]}}",
			  "test.json:1:56: stages.mail[0].then.status: invalid enhanced status "
			  "\"4.7.1\": expected 5.X.Y (RFC 3463), matching reply code 550");
}

static void test_reply_text_without_line_breaks(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"then\":{\"action\":\"reject\",\"text\":\"a\\r\\nb\"}}]}}",
			  "test.json:1:54: stages.mail[0].then.text: invalid reply text: expected "
			  "1-400 printable ASCII characters, no line breaks");
}

static void test_rule_name_without_control_characters(void **state)
{
	char text[400];

	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"name\":\"a\\nverdict=accept\",\"then\":\"reject\"}]}}",
			  "test.json:1:28: stages.mail[0].name: expected a rule name of 1-200 bytes "
			  "without control characters (it goes into log lines and metric labels)");
	snprintf(text, sizeof(text), "{\"stages\":{\"mail\":[{\"name\":\"%0201d\",\"then\":\"reject\"}]}}", 0);
	assert_load_error(text, "test.json:1:28: stages.mail[0].name: expected a rule name of 1-200 bytes "
			  "without control characters (it goes into log lines and metric labels)");
	snprintf(text, sizeof(text), "{\"stages\":{\"mail\":[{\"name\":\"%0200d\",\"then\":\"reject\"}]}}", 0);
	policy_unref(load_ok(text));
}

static void test_wrong_types_are_named(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"name\":3,\"then\":5}]}}",
			  "test.json:1:28: stages.mail[0].name: expected a string, got an integer\n"
			  "test.json:1:37: stages.mail[0].then: expected an action name or an "
			  "{\"action\": ...} object, got an integer");
}

static void test_condition_used_before_its_data_exists(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"connect\":[{\"if\":{\"header\":\"Subject\"},\"then\":\"accept\"}]}}",
			  "test.json:1:30: stages.connect[0].if.header: condition \"header\" cannot be "
			  "used at stage connect (its data is known from stage headers on)");
}

static void test_quarantine_needs_the_whole_message(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"rcpt\":[{\"then\":{\"action\":\"quarantine\",\"folder\":\"q\"}}]}}",
			  "test.json:1:38: stages.rcpt[0].then.action: action \"quarantine\" needs the "
			  "whole message: use it at stage eom, not rcpt");
}

static void test_unknown_action_and_condition(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"if\":{\"from\":\"x\"},\"then\":\"bounce\"}]}}",
			  "test.json:1:27: stages.mail[0].if.from: unknown condition \"from\"; expected "
			  "one of: all, any, not, client_ip, client_name, helo, sender, recipient, auth, "
			  "auth_user, header, original_header, size_above, macro\n"
			  "test.json:1:46: stages.mail[0].then: unknown action \"bounce\"; expected one of: "
			  "next, accept, reject, tempfail, discard, quarantine, add_header, change_header, "
			  "remove_header, log, delegate");
}

static void test_original_header_only_in_followup_rules(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"eom\":[{\"if\":{\"original_header\":\"X-Loop\"},\"then\":\"discard\"}]}}",
			  "test.json:1:26: stages.eom[0].if.original_header: condition \"original_header\" "
			  "applies only in the follow-up rules of a delegate (elsewhere \"header\" already "
			  "tests the message's own fields)");
}

static void test_deliver_is_original_or_copy(void **state)
{
	(void)state;
	assert_load_error("{" SVC ",\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\","
			  "\"deliver\":\"filtered\"}}]}}",
			  "test.json:1:178: stages.eom[0].then.deliver: unknown value \"filtered\"; "
			  "expected one of: original, copy");
	assert_load_error("{" SVC ",\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\","
			  "\"deliver\":true}}]}}",
			  "test.json:1:178: stages.eom[0].then.deliver: expected a string, got a boolean");
}

static void test_deliver_copy_refuses_import_headers(void **state)
{
	(void)state;
	assert_load_error("{" SVC ",\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\","
			  "\"import_headers\":[\"X-Virus-*\"],\"deliver\":\"copy\"}}]}}",
			  "test.json:1:185: stages.eom[0].then.import_headers: import_headers has no "
			  "effect with \"deliver\": \"copy\" (the copy is delivered with every field the "
			  "filter added): remove one of them");
}

static void test_deliver_and_original_header_load(void **state)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_text("{" SVC ",\"stages\":{\"eom\":["
		"{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"deliver\":\"copy\",\"rules\":["
		"{\"if\":{\"original_header\":{\"name\":\"X-Loop\",\"value\":\"yes\"}},\"then\":\"discard\"}]}},"
		"{\"then\":{\"action\":\"delegate\",\"service\":\"av\"}}]}}", "test.json", &errs);
	const struct rule_list *eom;

	(void)state;
	assert_int_equal(errs.count, 0);
	assert_non_null(p);
	eom = &p->stages[STAGE_EOM];
	assert_int_equal(eom->items[0].then.items[0].u.delegate.deliver, DELIVER_COPY);
	assert_int_equal(eom->items[0].then.items[0].u.delegate.followup.items[0].cond->kind,
			 COND_ORIGINAL_HEADER);
	assert_int_equal(eom->items[1].then.items[0].u.delegate.deliver, DELIVER_ORIGINAL);
	policy_unref(p);
}

static void test_missing_then(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"mail\":[{\"name\":\"x\"}]}}",
			  "test.json:1:20: stages.mail[0].then: missing key \"then\" (expected an "
			  "action or a list of actions)");
}

static void test_bad_duration(void **state)
{
	char *got;

	(void)state;
	got = load_errors_joined("{\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:10026\","
				 "\"timeout\":\"60 seconds\"},\"receiver\":\"127.0.0.1:10025\"}},\"stages\":{}}");
	assert_non_null(strstr(got, "test.json:1:85: services.av.delegator.timeout: "));
	assert_non_null(strstr(got, "expected a positive duration such as \"60s\""));
	free(got);
}

static void test_public_receiver_must_be_explicit(void **state)
{
	struct policy *p;

	(void)state;
	assert_load_error("{\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:10026\"},"
			  "\"receiver\":\"0.0.0.0:10025\"}},\"stages\":{}}",
			  "test.json:1:87: services.av.receiver: receiver 0.0.0.0 is not a loopback "
			  "address: anyone who reaches it could inject mail; set \"receiver_public\": true "
			  "to bind it anyway");
	p = load_ok("{\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:10026\"},"
		    "\"receiver\":\"0.0.0.0:10025\",\"receiver_public\":true}},\"stages\":{}}");
	assert_true(p->services[0].receiver_public);
	policy_unref(p);
}

static void test_every_error_is_reported_in_one_run(void **state)
{
	char *got;
	size_t lines = 1;

	(void)state;
	got = load_errors_joined("{\"settings\":{\"spool_dir\":\"relative\"},\n"
				 "\"stages\":{\"mail\":[{\"then\":\"bounce\"},{\"if\":{},\"then\":\"accept\"}],\n"
				 "\"rcpt\":[{\"if\":{\"recipient\":[]},\"then\":{\"action\":\"reject\",\"code\":251}}]}}");
	for (const char *p = got; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 5);
	assert_non_null(strstr(got, "test.json:1:26: settings.spool_dir: expected an absolute path"));
	assert_non_null(strstr(got, "test.json:2:27: stages.mail[0].then: unknown action"));
	assert_non_null(strstr(got, "test.json:2:43: stages.mail[1].if: empty condition"));
	assert_non_null(strstr(got, "test.json:3:28: stages.rcpt[0].if.recipient: expected a non-empty list"));
	assert_non_null(strstr(got, "test.json:3:65: stages.rcpt[0].then.code: reply code 251"));
	free(got);
}

static void test_quarantine_without_folder_must_hold(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"eom\":[{\"then\":{\"action\":\"quarantine\",\"then\":\"discard\"}}]}}",
			  "test.json:1:27: stages.eom[0].then: a quarantine without \"folder\" keeps "
			  "the message nowhere: expected a folder, or \"then\": \"hold\" (MTA hold queue)");
}

static void test_folder_name_cannot_escape_the_quarantine_root(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"eom\":[{\"then\":{\"action\":\"quarantine\",\"folder\":\"../etc\"}}]}}",
			  "test.json:1:59: stages.eom[0].then.folder: invalid folder name \"../etc\": "
			  "expected a plain name of letters, digits, '.', '_' or '-'");
}

static void test_macros_and_stages_are_collected_for_negotiation(void **state)
{
	struct policy *p = load_ok(
		"{\"stages\":{\"mail\":[{\"if\":{\"any\":[{\"macro\":\"{daemon_name}\"},"
		"{\"not\":{\"macro\":{\"name\":\"j\",\"value\":\"mx\"}}}]},\"then\":\"accept\"}],"
		"\"rcpt\":[{\"if\":{\"macro\":\"{daemon_name}\"},\"then\":\"next\"}]}}");

	(void)state;
	assert_int_equal(p->macro_count, 2);
	assert_string_equal(p->macros[0], "{daemon_name}");
	assert_string_equal(p->macros[1], "j");
	assert_int_equal(p->stage_mask, (1u << STAGE_MAIL) | (1u << STAGE_RCPT));
	assert_true(p->cond_mask & (1u << COND_MACRO));
	assert_false(p->cond_mask & (1u << COND_HEADER));
	policy_unref(p);
}

static void test_rules_without_name_are_named_after_their_place(void **state)
{
	struct policy *p = load_ok("{\"stages\":{\"helo\":[{\"then\":\"next\"},{\"then\":\"accept\"}]}}");

	(void)state;
	assert_string_equal(p->stages[STAGE_HELO].items[1].name, "helo#2");
	policy_unref(p);
}

static void test_reply_defaults_and_status_from_code(void **state)
{
	struct policy *p = load_ok("{\"stages\":{\"mail\":[{\"then\":[\"reject\",{\"action\":\"tempfail\",\"code\":421}]}]}}");
	const struct action_list *l = &p->stages[STAGE_MAIL].items[0].then;

	(void)state;
	assert_int_equal(l->items[0].u.reply.code, 550);
	assert_string_equal(l->items[0].u.reply.status, "5.7.1");
	assert_string_equal(l->items[0].u.reply.text, "Message refused by policy");
	assert_int_equal(l->items[1].u.reply.code, 421);
	assert_string_equal(l->items[1].u.reply.status, "4.7.1");
	assert_int_equal(p->settings.fail_safe.items[0].kind, ACT_TEMPFAIL);
	policy_unref(p);
}

static void test_deep_nesting_is_refused_not_crashed(void **state)
{
	char text[8192] = "{\"stages\":{\"mail\":[{\"then\":\"accept\",\"if\":";
	char *got;

	(void)state;
	for (int i = 0; i < 100; i++)
		strcat(text, "{\"not\":");
	strcat(text, "{\"auth\":true}");
	for (int i = 0; i < 100; i++)
		strcat(text, "}");
	strcat(text, "}]}}");
	got = load_errors_joined(text);
	assert_non_null(strstr(got, "nested too deeply"));
	free(got);
}

static void test_every_prefix_of_a_policy_fails_cleanly(void **state)
{
	struct load_errors errs = { 0 };
	FILE *f = fopen("policies/examples/trusted-networks.json", "r");
	char text[8192];
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	for (size_t cut = 0; cut < n - 2; cut++) {
		char saved = text[cut];
		struct policy *p;

		text[cut] = '\0';
		p = policy_load_text(text, "prefix.json", &errs);
		assert_null(p);
		assert_true(errs.count > 0);
		load_errors_free(&errs);
		text[cut] = saved;
	}
}

static void test_unreadable_file_is_reported(void **state)
{
	struct load_errors errs = { 0 };

	(void)state;
	assert_null(policy_load_file("/nonexistent/policy.json", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.items[0], "/nonexistent/policy.json: cannot read policy: "
			    "No such file or directory");
	load_errors_free(&errs);
}

static void test_world_writable_policy_and_folders_are_refused(void **state)
{
	char *dir = scratch_dir(), *file, *spool, *text, want[2048];
	struct load_errors errs = { 0 };
	FILE *f;

	(void)state;
	assert_true(asprintf(&file, "%s/policy.json", dir) > 0);
	assert_true(asprintf(&spool, "%s/spool", dir) > 0);
	assert_int_equal(mkdir(spool, 0700), 0);
	assert_true(asprintf(&text, "{ \"settings\": { \"spool_dir\": \"%s\", "
			     "\"quarantine_dir\": \"%s/none\" }, \"stages\": {} }", spool, dir) > 0);
	assert_non_null(f = fopen(file, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(file, 0666), 0);
	assert_int_equal(chmod(spool, 0777), 0);
	assert_null(policy_load_file(file, &errs));
	assert_int_equal(errs.count, 2);
	snprintf(want, sizeof(want), "%s: refusing a world-writable policy file (any local user "
		 "could change it); run chmod o-w %s", file, file);
	assert_string_equal(errs.items[0], want);
	snprintf(want, sizeof(want), "%s: refusing a world-writable spool folder "
		 "(settings.spool_dir) (any local user could change it); run chmod o-w %s", spool, spool);
	assert_string_equal(errs.items[1], want);
	load_errors_free(&errs);
	assert_int_equal(chmod(file, 0644), 0);
	assert_int_equal(chmod(spool, 0700), 0);
	policy_unref(policy_load_file(file, &errs));
	assert_int_equal(errs.count, 0);
	remove_tree(dir);
	free(dir);
	free(file);
	free(spool);
	free(text);
}

static void test_every_shipped_policy_loads(void **state)
{
	static const char *const files[] = {
		"policies/default.json", "policies/examples/antivirus.json",
		"policies/examples/trusted-networks.json", "policies/examples/per-recipient.json",
		"policies/examples/size-limit.json",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct load_errors errs = { 0 };
		struct policy *p = policy_load_file(files[i], &errs);

		for (size_t e = 0; e < errs.count; e++)
			print_error("%s\n", errs.items[e]);
		assert_non_null(p);
		policy_unref(p);
		load_errors_free(&errs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy_loads_with_its_delegation),
		cmocka_unit_test(test_syntax_error_names_line_and_column),
		cmocka_unit_test(test_duplicate_key_is_a_syntax_error),
		cmocka_unit_test(test_top_level_must_be_an_object),
		cmocka_unit_test(test_unknown_top_level_key_lists_the_valid_ones),
		cmocka_unit_test(test_missing_stages),
		cmocka_unit_test(test_unknown_stage),
		cmocka_unit_test(test_unknown_service_lists_the_defined_ones),
		cmocka_unit_test(test_bad_cidr),
		cmocka_unit_test(test_regex_that_does_not_compile),
		cmocka_unit_test(test_reject_needs_a_5xx_code),
		cmocka_unit_test(test_tempfail_needs_a_4xx_code),
		cmocka_unit_test(test_enhanced_status_must_match_the_code),
		cmocka_unit_test(test_reply_text_without_line_breaks),
		cmocka_unit_test(test_rule_name_without_control_characters),
		cmocka_unit_test(test_wrong_types_are_named),
		cmocka_unit_test(test_condition_used_before_its_data_exists),
		cmocka_unit_test(test_quarantine_needs_the_whole_message),
		cmocka_unit_test(test_unknown_action_and_condition),
		cmocka_unit_test(test_original_header_only_in_followup_rules),
		cmocka_unit_test(test_deliver_is_original_or_copy),
		cmocka_unit_test(test_deliver_copy_refuses_import_headers),
		cmocka_unit_test(test_deliver_and_original_header_load),
		cmocka_unit_test(test_missing_then),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_public_receiver_must_be_explicit),
		cmocka_unit_test(test_every_error_is_reported_in_one_run),
		cmocka_unit_test(test_quarantine_without_folder_must_hold),
		cmocka_unit_test(test_folder_name_cannot_escape_the_quarantine_root),
		cmocka_unit_test(test_macros_and_stages_are_collected_for_negotiation),
		cmocka_unit_test(test_rules_without_name_are_named_after_their_place),
		cmocka_unit_test(test_reply_defaults_and_status_from_code),
		cmocka_unit_test(test_deep_nesting_is_refused_not_crashed),
		cmocka_unit_test(test_every_prefix_of_a_policy_fails_cleanly),
		cmocka_unit_test(test_unreadable_file_is_reported),
		cmocka_unit_test(test_world_writable_policy_and_folders_are_refused),
		cmocka_unit_test(test_every_shipped_policy_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
