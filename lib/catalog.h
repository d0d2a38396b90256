/*
 * What the live catalog says about each class's table: that it and every
 * column the policy names exist, the timestamp column's type, that the key
 * is unique, the leaf partitions, and the dependents a DELETE would reach
 * (foreign keys, triggers, rules, inheritance children). Names from the policy are
 * looked up as values and only ever reach SQL text quoted by libpq, so a
 * policy cannot smuggle SQL in a name.
 *
 * A class governs exactly the relation it names: a plain table without its
 * inheritance children (every statement reads it as ONLY), a partitioned
 * table with all its partitions.
 */
#ifndef RETENTION_CATALOG_H
#define RETENTION_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "policy.h"

#define CATALOG_QNAME_MAX 300 /* "schema"."table", quoted */
#define CATALOG_FK_MAX 32
#define CATALOG_FK_COLS 8

typedef enum ts_kind { TS_TIMESTAMPTZ, TS_TIMESTAMP, TS_DATE } ts_kind;

/* A foreign key from a child table into the class's table. */
typedef struct catalog_fk {
	char name[POLICY_NAME_MAX];
	char child[CATALOG_QNAME_MAX + 5];      /* quoted, as a FROM item (ONLY unless partitioned) */
	char child_plain[2 * POLICY_NAME_MAX];  /* schema.table, for messages */
	char child_cols[CATALOG_FK_COLS][POLICY_NAME_MAX + 2];  /* quoted */
	char parent_cols[CATALOG_FK_COLS][POLICY_NAME_MAX + 2]; /* quoted */
	int ncols;
	char on_delete; /* pg_constraint.confdeltype: a, r, c, n, d */
} catalog_fk;

typedef struct class_catalog {
	unsigned int oid;
	bool partitioned;
	char qname[CATALOG_QNAME_MAX]; /* quoted "schema"."table" */
	/*
	 * The table as every statement that reads or deletes rows names it:
	 * "ONLY qname" for a plain table, so that inheritance children (other
	 * relations, maybe another class's or none's) are never read or
	 * deleted; qname for a partitioned table, whose partitions are its rows.
	 */
	char from_item[CATALOG_QNAME_MAX + 5];
	char key[POLICY_NAME_MAX + 2];
	char ts[POLICY_NAME_MAX + 2];
	ts_kind ts_kind;
	char hold_keys[POLICY_LIST_MAX][POLICY_NAME_MAX + 2];
	int n_hold_keys;
	/* Keys that restrict or wait on deletes: rows they pin are skipped. */
	catalog_fk pinning[CATALOG_FK_MAX];
	int n_pinning;
	/* A guard description when a dependent is not covered by the policy. */
	char guard[512];
	char guard_name[32]; /* "cascade" or "trigger", empty when none fired */
} class_catalog;

/*
 * Checks the class against the catalog and fills cat. RET_USAGE names the
 * policy field at fault when the table or a column does not exist, the
 * timestamp column has an unusable type, or the key of a purge or archive
 * class is not unique (a valid unique index on it alone, or on a partitioned
 * table on it plus partition key columns only, and NOT NULL; see
 * policies/README.md); and, for a class that removes rows, when its table
 * has inheritance children that no class of p names (a reader of the policy
 * would take them for part of the table) or a rule on DELETE (on the table
 * or a partition: the job's statements cannot run through one, and an
 * INSTEAD rule would delete elsewhere). A dependent the policy does not
 * cover (ON DELETE CASCADE / SET NULL / SET DEFAULT from another table, or a
 * user trigger on DELETE) is not an error here: it fills cat->guard.
 */
ret_code catalog_check_class(PGconn *conn, const policy *p, const policy_class *c,
                             class_catalog *cat, ret_error *err);

/*
 * Sets *related when one table is a partition (at any depth) of the other:
 * two classes on one partition tree would give one row two rules. Plain
 * inheritance does not relate them: each class reads its own table ONLY.
 */
ret_code catalog_same_tree(PGconn *conn, unsigned int a, unsigned int b, bool *related,
                           ret_error *err);

/* RET_USAGE when the server does not know the time zone. */
ret_code catalog_check_timezone(PGconn *conn, const char *tz, const char *origin,
                                ret_error *err);

#endif
