/*
 * test_log_json.c - JSON log lines (-F json) on stderr: each line is one
 * object with time, program, pid, level and message; quotes, newlines and
 * control characters stay inside the line; bytes that are not UTF-8 become
 * '?'; log_record adds the caller's fields; levels above the one kept are
 * dropped; and the text format is untouched.
 */
#include "test_support.h"

#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "log.h"

static char log_path[256];

/* capture - point stderr at a fresh file; the previous stderr is returned. */
static int capture(void)
{
	int saved = dup(STDERR_FILENO), fd;

	snprintf(log_path, sizeof(log_path), "/tmp/md-test-log.%d", (int)getpid());
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

/* lines - restore stderr (SAVED) and read the captured lines into LINE (up to MAX); their number. */
static size_t lines(int saved, char line[][2048], size_t max)
{
	FILE *in;
	size_t n = 0;

	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_non_null(in = fopen(log_path, "r"));
	while (n < max && fgets(line[n], 2048, in))
		n++;
	fclose(in);
	unlink(log_path);
	return n;
}

/* object - LINE parsed as a JSON object (the caller decrefs). */
static json_t *object(const char *line)
{
	json_error_t err;
	json_t *o = json_loads(line, 0, &err);

	if (!o)
		print_error("not JSON: %s (%s)\n", line, err.text);
	assert_true(json_is_object(o));
	return o;
}

static void test_each_line_is_one_object_with_the_envelope(void **state)
{
	char line[4][2048];
	int saved = capture();
	json_t *o;

	(void)state;
	log_open("md-test", LOG_TO_STDERR, LOG_INFO);
	log_set_format(LOG_FORMAT_JSON);
	log_msg(LOG_WARNING, "say \"%s\"\nand\ttab\x01", "hi");
	log_msg(LOG_DEBUG, "dropped: above the level kept");
	assert_int_equal(lines(saved, line, 4), 1);
	o = object(line[0]);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warning");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "say \"hi\"\nand\ttab\x01");
	assert_string_equal(json_string_value(json_object_get(o, "program")), "md-test");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), getpid());
	assert_non_null(json_string_value(json_object_get(o, "time")));
	json_decref(o);
}

static void test_record_adds_fields_and_bytes_not_utf8_become_question_marks(void **state)
{
	char line[4][2048];
	int saved = capture();
	json_t *fields = json_pack("{s:i,s:o}", "rcpts", 2, "from", log_json_string("a\xff@b"));
	json_t *o;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	log_record(LOG_INFO, "Q1: from=<a\xff@b>", fields);
	json_decref(fields);
	assert_int_equal(lines(saved, line, 4), 1);
	o = object(line[0]);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "Q1: from=<a?@b>");
	assert_string_equal(json_string_value(json_object_get(o, "from")), "a?@b");
	assert_int_equal(json_integer_value(json_object_get(o, "rcpts")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	json_decref(o);
}

static void test_text_format_stays_text(void **state)
{
	char line[4][2048];
	int saved = capture();

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	log_record(LOG_INFO, "Q2: verdict=accept", NULL);
	assert_int_equal(lines(saved, line, 4), 1);
	assert_non_null(strstr(line[0], " md-test["));
	assert_non_null(strstr(line[0], "]: info: Q2: verdict=accept\n"));
	assert_int_equal(line[0][0] == '{', 0);
}

static void test_format_names(void **state)
{
	(void)state;
	assert_int_equal(log_format_parse("json"), LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("text"), LOG_FORMAT_TEXT);
	assert_int_equal(log_format_parse("JSON"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_line_is_one_object_with_the_envelope),
		cmocka_unit_test(test_record_adds_fields_and_bytes_not_utf8_become_question_marks),
		cmocka_unit_test(test_text_format_stays_text),
		cmocka_unit_test(test_format_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
