/* libFuzzer target: any bytes as a policy are loaded or refused, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	policy *p = NULL;
	ret_error err;

	ret_error_clear(&err);
	if (policy_parse((const char *)data, size, "fuzz", &p, &err) == RET_OK) {
		/* A policy that loads has names the identifier rule accepts. */
		for (int i = 0; i < p->n_classes; i++)
			if (!policy_identifier_ok(p->classes[i].table) ||
			    !policy_identifier_ok(p->classes[i].name))
				__builtin_trap();
	}
	policy_free(p);
	return 0;
}
