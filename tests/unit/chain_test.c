/* Unit tests for lib/chain.c's continuity check: which file each kind of damage names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chain.h"

/* The names make() gives reports 1 to 4. */
#define R1 "retention-20260101T000000Z-run1.json"
#define R2 "retention-20260102T000000Z-run2.json"
#define R3 "retention-20260103T000000Z-run3.json"
#define R4 "retention-20260104T000000Z-run4.json"

typedef struct findings {
	char text[4096];
	int breaks;
} findings;

static void
collect(void *arg, bool is_break, const char *file, const char *message)
{
	findings *f = arg;
	size_t n = strlen(f->text);

	if (is_break)
		f->breaks++;
	snprintf(f->text + n, sizeof(f->text) - n, "%s %s: %s\n", is_break ? "BREAK" : "note",
	         file, message);
}

/* Report seq of one chain, named as written, its hash "h<seq>", linking to previous (0: none). */
static void
make(chain_entry *e, int seq, int previous)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->run_id, sizeof(e->run_id), "run%d", seq);
	snprintf(e->started_at, sizeof(e->started_at), "2026-01-%02dT00:00:00Z", seq);
	chain_expected_name(e->started_at, e->run_id, e->file, sizeof(e->file));
	snprintf(e->sha256, sizeof(e->sha256), "h%063d", seq);
	if (previous > 0)
		snprintf(e->previous, sizeof(e->previous), "h%063d", previous);
	snprintf(e->mode, sizeof(e->mode), "execute");
	snprintf(e->group, sizeof(e->group), "policy p on db d");
	e->sequence = seq;
}

static void
intact_chain_has_no_break(void **state)
{
	chain_entry e[4];
	findings f = {"", 0};

	(void)state;
	make(&e[0], 3, 2);
	make(&e[1], 1, 0);
	make(&e[2], 2, 1);
	make(&e[3], 4, 3);
	chain_check(e, 4, collect, &f);
	assert_int_equal(f.breaks, 0);
	assert_non_null(strstr(f.text, "note " R4 ": newest report"));
}

static void
removed_report_names_the_next_one(void **state)
{
	chain_entry e[3];
	findings f = {"", 0};

	(void)state;
	make(&e[0], 1, 0);
	make(&e[1], 3, 2);
	make(&e[2], 4, 3);
	chain_check(e, 3, collect, &f);
	assert_int_equal(f.breaks, 1);
	assert_non_null(strstr(f.text, "BREAK " R3 ": sequence 3: its previous report"));
	assert_non_null(strstr(f.text, "a report after " R1 " (sequence 1) was removed"));
}

static void
duplicate_and_clashing_sequence_are_named(void **state)
{
	chain_entry e[4];
	findings f = {"", 0};

	(void)state;
	make(&e[0], 1, 0);
	make(&e[1], 2, 1);
	e[2] = e[1];
	snprintf(e[2].file, sizeof(e[2].file), "a-copy.json");
	make(&e[3], 2, 1);
	snprintf(e[3].sha256, sizeof(e[3].sha256), "x%063d", 2);
	snprintf(e[3].file, sizeof(e[3].file), "zz.json");
	chain_check(e, 4, collect, &f);
	assert_int_equal(f.breaks, 2);
	assert_non_null(strstr(f.text, "BREAK a-copy.json: duplicated report: a copy of " R2));
	assert_non_null(strstr(f.text, "BREAK zz.json: claims sequence 2"));
}

static void
fork_names_the_report_passed_over(void **state)
{
	chain_entry e[3];
	findings f = {"", 0};

	(void)state;
	/* 3 links to 1: 2 was written but never recorded in the ledger. */
	make(&e[0], 1, 0);
	make(&e[1], 2, 1);
	make(&e[2], 3, 1);
	chain_check(e, 3, collect, &f);
	assert_int_equal(f.breaks, 1);
	assert_non_null(strstr(f.text, "BREAK " R2 ": outside the chain: " R3 " (sequence 3)"));
}

static void
gap_with_intact_link_is_a_note(void **state)
{
	chain_entry e[2];
	findings f = {"", 0};

	(void)state;
	/* Sequence 2 was killed before writing its report; 3 links straight to 1. */
	make(&e[0], 1, 0);
	make(&e[1], 3, 1);
	chain_check(e, 2, collect, &f);
	assert_int_equal(f.breaks, 0);
	assert_non_null(strstr(f.text, "note " R3 ": no report for sequence 2 to 2"));
}

static void
backward_link_is_reordered(void **state)
{
	chain_entry e[2];
	findings f = {"", 0};

	(void)state;
	make(&e[0], 1, 2);
	make(&e[1], 2, 0);
	chain_check(e, 2, collect, &f);
	assert_true(f.breaks >= 1);
	assert_non_null(strstr(f.text, "reordered"));
}

static void
expected_name_follows_the_start_time(void **state)
{
	char name[128];

	(void)state;
	chain_expected_name("2026-12-04T13:32:47.123456Z", "abc", name, sizeof(name));
	assert_string_equal(name, "retention-20261204T133247Z-abc.json");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intact_chain_has_no_break),
		cmocka_unit_test(removed_report_names_the_next_one),
		cmocka_unit_test(duplicate_and_clashing_sequence_are_named),
		cmocka_unit_test(fork_names_the_report_passed_over),
		cmocka_unit_test(gap_with_intact_link_is_a_note),
		cmocka_unit_test(backward_link_is_reordered),
		cmocka_unit_test(expected_name_follows_the_start_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
