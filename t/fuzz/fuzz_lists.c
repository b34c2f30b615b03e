/*
 * fuzz_lists.c - libFuzzer target holding the indexed lists of policy
 * conditions to the linear tests they replace: match_list (hash sets and
 * label walks) against match_any, and cidr_set (sorted ranges) against
 * cidr_list_contains, on random lists and subjects. Any disagreement aborts.
 *
 * Input: one byte choosing the list (odd: matchers, even: networks), then
 * lines. A line starting with '>' is a subject (an address for networks);
 * any other line is an entry. For matchers the entry's first character is
 * its kind: '0' equals, '1' exact, '2' domain, '3' regex, and '7' a
 * case-sensitive regex; lines starting otherwise are skipped. So a seed
 * reads: "m\n2.example.com\n0Boss@x\n>a@mx.example.com\n" (and "n\n10.0.0.0/8\n>10.1.2.3\n").
 *
 * Regexes are kept small and free of repetition operators (the regex engine
 * is glibc's and the same on both sides; fuzz_match explores it): only the
 * list logic is under test here.
 */
#include <sys/socket.h>

#include "cidr_set.h"
#include "fuzz_support.h"
#include "match_list.h"

#define MAX_ENTRIES 64
#define MAX_REGEX 32

/* The list being built, both ways. */
struct lists {
	struct matcher items[MAX_ENTRIES];
	size_t n;
	struct matcher_list index;
	struct cidr nets[MAX_ENTRIES];
	size_t n_nets;
	struct cidr_set set;
};

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* regex_skipped - a pattern too long or with a repetition operator. */
static bool regex_skipped(const char *pattern)
{
	return strlen(pattern) > MAX_REGEX || strpbrk(pattern, "*+?{\\");
}

/* add_matcher - the entry LINE ("<kind digit>pattern") into both lists. */
static void add_matcher(struct lists *l, const char *line)
{
	static const char kinds[] = "0123\0\0\0" "7";
	const char *k = line[0] ? memchr(kinds, line[0], 8) : NULL;
	enum match_kind kind;
	bool ignore_case;
	char err[256];

	if (!k || l->n == MAX_ENTRIES)
		return;
	kind = (enum match_kind)((k - kinds) & 3);
	ignore_case = k - kinds < 4;
	if (kind == MATCH_REGEX && regex_skipped(line + 1))
		return;
	bool linear = match_compile(&l->items[l->n], kind, line + 1, ignore_case, err, sizeof(err));
	bool indexed = match_list_add(&l->index, kind, line + 1, ignore_case, err, sizeof(err));

	if (linear != indexed)
		abort();                /* one accepts a pattern the other refuses */
	if (linear)
		l->n++;
	else
		match_free(&l->items[l->n]);
}

/* add_net - the entry LINE as a network into both lists (malformed: skipped). */
static void add_net(struct lists *l, const char *line)
{
	const char *why;

	if (l->n_nets < MAX_ENTRIES && cidr_parse(line, &l->nets[l->n_nets], &why))
		cidr_set_add(&l->set, &l->nets[l->n_nets++]);
}

/* check_subject - both forms of the list give the same answer for SUBJECT. */
static void check_subject(struct lists *l, bool nets, const char *subject)
{
	int family;
	uint8_t addr[16];

	if (!nets) {
		if (match_list_test(&l->index, subject) != match_any(l->items, l->n, subject))
			abort();
		return;
	}
	if (cidr_addr_parse(subject, &family, addr) &&
	    cidr_set_contains(&l->set, family, addr) !=
	    cidr_list_contains(l->nets, l->n_nets, family, addr))
		abort();
}

/* LLVMFuzzerTestOneInput - build both lists from the entries, test every subject. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lists l;
	char *text, *line, *save = NULL;
	bool nets;

	if (size < 1)
		return 0;
	nets = !(data[0] & 1);     /* "m" matchers, "n" networks */
	text = fuzz_strndup(data + 1, size - 1);
	memset(&l, 0, sizeof(l));
	match_list_init(&l.index);
	cidr_set_init(&l.set);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '>')
			nets ? add_net(&l, line) : add_matcher(&l, line);
	cidr_set_seal(&l.set);
	free(text);
	text = fuzz_strndup(data + 1, size - 1);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '>')
			check_subject(&l, nets, line + 1);
	if (match_list_test(&l.index, NULL))
		abort();
	free(text);
	for (size_t i = 0; i < l.n; i++)
		match_free(&l.items[i]);
	match_list_free(&l.index);
	cidr_set_free(&l.set);
	return 0;
}
