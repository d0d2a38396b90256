/*
 * Whole numbers read from JSON that this program did not necessarily write
 * (reports and manifests under verification, policies). cJSON holds numbers
 * as doubles, and casting one outside the target's range (1e99, NaN) to an
 * integer type is undefined behaviour, so every such read goes through here.
 */
#ifndef RETENTION_JSONNUM_H
#define RETENTION_JSONNUM_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* True and *out set when item is a number within long long's range (fraction truncated). */
static inline bool
json_long_long(const cJSON *item, long long *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return false;
	d = item->valuedouble;
	/* -2^63 and 2^63 are exact doubles; the range is [-2^63, 2^63). */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return false;
	*out = (long long)d;
	return true;
}

#endif
