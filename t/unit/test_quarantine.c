/*
 * test_quarantine.c - the quarantine store (qstore.h): which ids are ids,
 * how damaged files are reported (and left alone), that a claim is
 * exclusive, and that a release mark and a removal are what the next
 * reader sees.
 */
#include "test_support.h"

#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "policy.h"
#include "qstore.h"

#define ID1 "20261201T101010Z-4F2A1B3C-0a1b2c3d"
#define ID2 "20261201T101011Z-NOQUEUE-deadbeef"

/* put_file - write TEXT to ROOT/FOLDER/NAME (the folder made when missing). */
static void put_file(const char *root, const char *folder, const char *name, const char *text)
{
	char *dir, *path;
	FILE *f;

	assert_true(asprintf(&dir, "%s/%s", root, folder) > 0);
	mkdir(dir, 0700);
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	free(path);
	free(dir);
}

/* put_message - ID.eml and a good ID.json in ROOT/FOLDER. */
static void put_message(const char *root, const char *folder, const char *id)
{
	char *name, *meta;

	assert_true(asprintf(&name, "%s.eml", id) > 0);
	put_file(root, folder, name, "Subject: test\r\n\r\nbody\r\n");
	free(name);
	assert_true(asprintf(&name, "%s.json", id) > 0);
	assert_true(asprintf(&meta, "{\"id\": \"%s\", \"time\": \"2026-12-01T10:10:10Z\", "
			     "\"sender\": \"a@example.org\", \"recipients\": [\"b@example.net\", "
			     "\"c@example.net\"], \"rule\": \"r\", \"folder\": \"%s\"}", id,
			     folder) > 0);
	put_file(root, folder, name, meta);
	free(meta);
	free(name);
}

/* exists - does ROOT/FOLDER/NAME exist? */
static bool exists(const char *root, const char *folder, const char *name)
{
	char *path;
	bool yes;

	assert_true(asprintf(&path, "%s/%s/%s", root, folder, name) > 0);
	yes = access(path, F_OK) == 0;
	free(path);
	return yes;
}

static void test_valid_id_accepts_the_ids_the_daemons_make(void **state)
{
	char id[QSTORE_ID_MAX + 1];

	(void)state;
	assert_true(qstore_valid_id(ID1));
	assert_true(qstore_valid_id(ID2));
	qstore_make_id(id, sizeof(id), 1764583810, "4F2A1B3C", 0x0a1b2c3d);
	assert_string_equal(id, "20251201T101010Z-4F2A1B3C-0a1b2c3d");
	assert_true(qstore_valid_id(id));
}

static void test_valid_id_refuses_paths_dots_and_options(void **state)
{
	static const char *const bad[] = { "", "../x", "a/b", "..", ".x", "x.json", "-rf", "_x",
					   "a b", "a\nb", "a\\b", "a*", NULL };
	char longest[QSTORE_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; bad[i]; i++)
		assert_false(qstore_valid_id(bad[i]));
	assert_false(qstore_valid_id(NULL));
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_false(qstore_valid_id(longest));            /* QSTORE_ID_MAX + 1 bytes */
	longest[QSTORE_ID_MAX] = '\0';
	assert_true(qstore_valid_id(longest));
}

static void test_make_id_keeps_a_hostile_queue_id_inside_the_alphabet(void **state)
{
	char id[QSTORE_ID_MAX + 1];

	(void)state;
	qstore_make_id(id, sizeof(id), 0, "../../etc/passwd x\n.", 1);
	assert_true(qstore_valid_id(id));
	assert_null(strchr(id, '/'));
	assert_null(strchr(id, '.'));
	qstore_make_id(id, sizeof(id), 0, NULL, 1);
	assert_string_equal(id, "19700101T000000Z-NOQUEUE-00000001");
}

static void test_find_reads_a_message_and_its_envelope(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry e;

	(void)state;
	put_message(root, "virus_q", ID1);
	assert_true(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_string_equal(e.folder, "virus_q");
	assert_string_equal(e.sender, "a@example.org");
	assert_int_equal(e.rcpt_count, 2);
	assert_int_equal(e.when, 1796119810);
	assert_null(qstore_released(&e));
	qentry_free(&e);
	remove_tree(root);
	free(root);
}

static void test_find_reports_an_eml_without_json_and_touches_nothing(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry e;

	(void)state;
	put_file(root, "virus_q", ID1 ".eml", "Subject: x\r\n\r\n");
	assert_false(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_non_null(strstr(err, ID1 ".eml has no metadata"));
	qentry_free(&e);
	assert_true(exists(root, "virus_q", ID1 ".eml"));
	remove_tree(root);
	free(root);
}

static void test_find_reports_metadata_that_is_not_json(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry e;

	(void)state;
	put_file(root, "virus_q", ID1 ".eml", "Subject: x\r\n\r\n");
	put_file(root, "virus_q", ID1 ".json", "not { json");
	assert_false(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_non_null(strstr(err, ID1 ".json: not JSON (line 1, column"));
	qentry_free(&e);
	assert_true(exists(root, "virus_q", ID1 ".json"));
	remove_tree(root);
	free(root);
}

static void test_load_refuses_metadata_it_cannot_release(void **state)
{
	static const struct { const char *meta, *why; } cases[] = {
		{ "{\"id\": \"other\", \"time\": \"2026-12-01T10:10:10Z\", \"sender\": \"\", "
		  "\"recipients\": [\"b@x\"]}", "does not describe" },
		{ "{\"id\": \"" ID1 "\", \"time\": \"yesterday\", \"sender\": \"\", "
		  "\"recipients\": [\"b@x\"]}", "\"time\" is not a time" },
		{ "{\"id\": \"" ID1 "\", \"time\": \"2026-12-01T10:10:10Z\", \"sender\": \"a>\\r\\nRCPT\", "
		  "\"recipients\": [\"b@x\"]}", "\"sender\" is not an address" },
		{ "{\"id\": \"" ID1 "\", \"time\": \"2026-12-01T10:10:10Z\", \"sender\": \"\", "
		  "\"recipients\": []}", "\"recipients\" is not a list" },
		{ "{\"id\": \"" ID1 "\", \"time\": \"2026-12-01T10:10:10Z\", \"sender\": \"\", "
		  "\"recipients\": [\"b@x\", \"<c@x>\"]}", "recipient 2 is not an address" },
		{ "[1, 2]", "does not describe" },
	};
	char *root = scratch_dir(), err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qentry e;

		put_file(root, "q", ID1 ".eml", "Subject: x\r\n\r\n");
		put_file(root, "q", ID1 ".json", cases[i].meta);
		assert_false(qstore_load(root, "q", ID1, &e, err, sizeof(err)));
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
		qentry_free(&e);
	}
	remove_tree(root);
	free(root);
}

static void test_an_id_in_two_folders_asks_for_the_folder(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry e;

	(void)state;
	put_message(root, "a_q", ID1);
	put_message(root, "b_q", ID1);
	assert_false(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_non_null(strstr(err, "is in 2 folders"));
	qentry_free(&e);
	assert_true(qstore_find(root, "b_q", ID1, &e, err, sizeof(err)));
	assert_string_equal(e.folder, "b_q");
	qentry_free(&e);
	remove_tree(root);
	free(root);
}

static void test_a_claim_is_exclusive_until_released(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry first, second;

	(void)state;
	put_message(root, "virus_q", ID1);
	assert_true(qstore_find(root, NULL, ID1, &first, err, sizeof(err)));
	assert_true(qstore_find(root, NULL, ID1, &second, err, sizeof(err)));
	assert_true(qstore_claim(&first, err, sizeof(err)));
	assert_false(qstore_claim(&second, err, sizeof(err)));
	assert_non_null(strstr(err, "being released or deleted by another process"));
	qentry_free(&first);                    /* drops the claim */
	assert_true(qstore_claim(&second, err, sizeof(err)));
	qentry_free(&second);
	remove_tree(root);
	free(root);
}

static void test_a_release_mark_is_seen_by_the_next_claim(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry a, b;
	json_t *list;

	(void)state;
	put_message(root, "virus_q", ID1);
	assert_true(qstore_find(root, NULL, ID1, &a, err, sizeof(err)));
	assert_true(qstore_find(root, NULL, ID1, &b, err, sizeof(err)));   /* read before the mark */
	assert_true(qstore_claim(&a, err, sizeof(err)));
	assert_true(qstore_mark_released(&a, "root", "smtp 127.0.0.1:10027", "250 ok", err,
					 sizeof(err)));
	qentry_free(&a);
	assert_null(qstore_released(&b));
	assert_true(qstore_claim(&b, err, sizeof(err)));    /* reads the metadata again */
	assert_non_null(list = qstore_released(&b));
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "to")),
			    "smtp 127.0.0.1:10027");
	assert_string_equal(b.sender, "a@example.org");
	assert_int_equal(count_files(b.dir), 2);            /* no temporary file left */
	qentry_free(&b);
	remove_tree(root);
	free(root);
}

static void test_a_release_mark_keeps_the_metadata_owner(void **state)
{
	char *root = scratch_dir(), err[512], *json;
	struct qentry e;
	struct stat st;

	(void)state;
	if (geteuid() != 0) {
		remove_tree(root);
		free(root);
		skip();         /* only root can give a file to another user */
	}
	put_message(root, "virus_q", ID1);
	assert_true(asprintf(&json, "%s/virus_q/%s.json", root, ID1) > 0);
	assert_int_equal(chown(json, 65534, 65534), 0);
	assert_true(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_true(qstore_claim(&e, err, sizeof(err)));
	assert_true(qstore_mark_released(&e, "root", "smtp x", "250", err, sizeof(err)));
	assert_int_equal(stat(json, &st), 0);
	assert_int_equal(st.st_uid, 65534);                 /* the daemons' user still reads it */
	assert_int_equal(st.st_mode & 0777, 0600);
	qentry_free(&e);
	free(json);
	remove_tree(root);
	free(root);
}

static void test_remove_takes_both_files(void **state)
{
	char *root = scratch_dir(), err[512];
	struct qentry e;

	(void)state;
	put_message(root, "virus_q", ID1);
	put_message(root, "virus_q", ID2);
	assert_true(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_true(qstore_claim(&e, err, sizeof(err)));
	assert_true(qstore_remove(&e, err, sizeof(err)));
	qentry_free(&e);
	assert_false(exists(root, "virus_q", ID1 ".json"));
	assert_false(exists(root, "virus_q", ID1 ".eml"));
	assert_true(exists(root, "virus_q", ID2 ".eml"));
	assert_false(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_non_null(strstr(err, "no message " ID1));
	qentry_free(&e);
	remove_tree(root);
	free(root);
}

/* What a scan saw. */
struct seen {
	char ids[8][QSTORE_ID_MAX + 1];
	int count, problems;
};

/* record - qstore_visit_fn for the scan test. */
static void record(void *arg, const struct qentry *e, const char *problem)
{
	struct seen *s = arg;

	if (!e) {
		s->problems++;
		assert_non_null(problem);
	} else if (s->count < 8)
		snprintf(s->ids[s->count++], sizeof(s->ids[0]), "%s", e->id);
}

static void test_scan_lists_in_order_and_skips_files_being_written(void **state)
{
	char *root = scratch_dir(), err[512], *left;
	struct seen s = { .count = 0 };

	(void)state;
	put_message(root, "virus_q", ID2);
	put_message(root, "virus_q", ID1);
	put_file(root, "virus_q", ".tmp-" ID1 "x.json", "{");    /* a writer at work */
	put_file(root, "virus_q", "20261201T000000Z-HALF-00000001.eml", "Subj");   /* being written */
	put_file(root, "virus_q", "20261201T000000Z-LEFT-00000001.eml", "Subj");   /* its writer died */
	assert_true(asprintf(&left, "%s/virus_q/20261201T000000Z-LEFT-00000001.eml", root) > 0);
	assert_int_equal(utime(left, &(struct utimbuf){ 0, time(NULL) - QSTORE_WRITE_GRACE - 1 }), 0);
	free(left);
	put_file(root, ".hidden", ID1 ".json", "{");
	assert_true(qstore_scan(root, NULL, record, &s, err, sizeof(err)));
	assert_int_equal(s.count, 2);
	assert_string_equal(s.ids[0], ID1);
	assert_string_equal(s.ids[1], ID2);
	assert_int_equal(s.problems, 1);                    /* the old .eml without .json */
	remove_tree(root);
	free(root);
}

static void test_scan_of_a_missing_root_is_empty(void **state)
{
	char err[512];
	struct seen s = { .count = 0 };

	(void)state;
	assert_true(qstore_scan("/nonexistent/md-quarantine", NULL, record, &s, err, sizeof(err)));
	assert_int_equal(s.count, 0);
	assert_false(qstore_scan("/nonexistent/md-quarantine", "../etc", record, &s, err,
				 sizeof(err)));
	assert_non_null(strstr(err, "invalid folder name"));
}

/* field_value - "ID TOKEN" into BUF. */
static const char *field_value(char *buf, size_t len, const char *id, const char *token)
{
	snprintf(buf, len, "%s %s", id, token);
	return buf;
}

static void test_a_release_token_is_live_only_for_its_message_and_time(void **state)
{
	char *root = scratch_dir(), err[512], token[33], value[256], wrong[33];
	struct qentry e;
	time_t now = time(NULL);

	(void)state;
	put_message(root, "virus_q", ID1);
	put_message(root, "virus_q", ID2);
	assert_true(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_true(qstore_claim(&e, err, sizeof(err)));
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID1,
							  "00000000000000000000000000000000"), now));
	assert_true(qstore_set_token(&e, token, err, sizeof(err)));
	assert_int_equal(strlen(token), 32);
	assert_true(qstore_token_valid(root, field_value(value, sizeof(value), ID1, token), now));
	snprintf(value, sizeof(value), "  %s\t%s \r\n", ID1, token);      /* as a field may fold */
	assert_true(qstore_token_valid(root, value, now));
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID2, token), now));
	memcpy(wrong, token, sizeof(wrong));
	wrong[31] = wrong[31] == '0' ? '1' : '0';
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID1, wrong), now));
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID1, token),
					now + QSTORE_TOKEN_TTL + 1));
	snprintf(value, sizeof(value), "%s %s extra", ID1, token);
	assert_false(qstore_token_valid(root, value, now));
	snprintf(value, sizeof(value), "../%s %s", ID1, token);
	assert_false(qstore_token_valid(root, value, now));
	assert_false(qstore_token_valid(root, ID1, now));
	assert_false(qstore_token_valid(root, "", now));
	assert_true(qstore_set_token(&e, NULL, err, sizeof(err)));  /* the release ended */
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID1, token), now));
	qentry_free(&e);
	remove_tree(root);
	free(root);
}

static void test_a_release_mark_ends_the_token(void **state)
{
	char *root = scratch_dir(), err[512], token[33], value[256];
	struct qentry e;

	(void)state;
	put_message(root, "virus_q", ID1);
	assert_true(qstore_find(root, NULL, ID1, &e, err, sizeof(err)));
	assert_true(qstore_claim(&e, err, sizeof(err)));
	assert_true(qstore_set_token(&e, token, err, sizeof(err)));
	assert_true(qstore_mark_released(&e, "root", "smtp x", "250", err, sizeof(err)));
	assert_false(qstore_token_valid(root, field_value(value, sizeof(value), ID1, token),
					time(NULL)));
	assert_null(json_object_get(e.meta, "release_token"));
	qentry_free(&e);
	remove_tree(root);
	free(root);
}

static void test_release_to_defaults_to_port_25_and_is_checked(void **state)
{
	struct policy *p = load_ok("{\"stages\": {}}");
	char *errs;

	(void)state;
	assert_string_equal(p->settings.release_to.host, "127.0.0.1");
	assert_int_equal(p->settings.release_to.port, 25);
	policy_unref(p);
	p = load_ok("{\"settings\": {\"release_to\": \"127.0.0.1:10027\"}, \"stages\": {}}");
	assert_int_equal(p->settings.release_to.port, 10027);
	policy_unref(p);
	errs = load_errors_joined("{\"settings\": {\"release_to\": \"127.0.0.1:99999\"}, "
				  "\"stages\": {}}");
	assert_non_null(strstr(errs, "settings.release_to: invalid address \"127.0.0.1:99999\""));
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_id_accepts_the_ids_the_daemons_make),
		cmocka_unit_test(test_valid_id_refuses_paths_dots_and_options),
		cmocka_unit_test(test_make_id_keeps_a_hostile_queue_id_inside_the_alphabet),
		cmocka_unit_test(test_find_reads_a_message_and_its_envelope),
		cmocka_unit_test(test_find_reports_an_eml_without_json_and_touches_nothing),
		cmocka_unit_test(test_find_reports_metadata_that_is_not_json),
		cmocka_unit_test(test_load_refuses_metadata_it_cannot_release),
		cmocka_unit_test(test_an_id_in_two_folders_asks_for_the_folder),
		cmocka_unit_test(test_a_claim_is_exclusive_until_released),
		cmocka_unit_test(test_a_release_mark_is_seen_by_the_next_claim),
		cmocka_unit_test(test_a_release_mark_keeps_the_metadata_owner),
		cmocka_unit_test(test_remove_takes_both_files),
		cmocka_unit_test(test_scan_lists_in_order_and_skips_files_being_written),
		cmocka_unit_test(test_scan_of_a_missing_root_is_empty),
		cmocka_unit_test(test_a_release_token_is_live_only_for_its_message_and_time),
		cmocka_unit_test(test_a_release_mark_ends_the_token),
		cmocka_unit_test(test_release_to_defaults_to_port_25_and_is_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
