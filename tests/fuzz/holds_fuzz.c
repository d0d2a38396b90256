/*
 * libFuzzer target for the hold argument checks: the first byte picks the
 * check, the rest is the argument. An accepted --match must give back a plain
 * column and a value within bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "holds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char column[POLICY_NAME_MAX];
	char value[HOLD_VALUE_MAX + 1];
	ret_error err;
	char *arg;

	if (size == 0)
		return 0;
	arg = malloc(size);
	if (arg == NULL)
		return 0;
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	ret_error_clear(&err);
	switch (data[0] % 3) {
	case 0:
		holds_check_ticket(arg, &err);
		break;
	case 1:
		if (holds_parse_match(arg, column, value, &err) == RET_OK &&
		    (!policy_identifier_ok(column) || strlen(value) == 0 ||
		     strlen(value) > HOLD_VALUE_MAX))
			__builtin_trap();
		break;
	default:
		holds_check_text("--reason", arg, HOLD_REASON_MAX, &err);
		break;
	}
	free(arg);
	return 0;
}
