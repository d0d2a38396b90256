/* Test-only fault injection, compiled to nothing without RETENTION_FAULTS. */
#include "fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
fault_hit(const char *point)
{
#ifdef RETENTION_FAULTS
	static int seen;
	const char *spec = getenv("RETENTION_FAULT");
	size_t n = strlen(point);
	int want = 1;

	if (spec == NULL || strncmp(spec, point, n) != 0 || (spec[n] != '\0' && spec[n] != ':'))
		return false;
	if (spec[n] == ':')
		want = (int)strtol(spec + n + 1, NULL, 10);
	return __atomic_add_fetch(&seen, 1, __ATOMIC_SEQ_CST) == want; /* workers of --jobs */
#else
	(void)point;
	return false;
#endif
}

void
fault_point(const char *point)
{
	if (fault_hit(point))
		kill(getpid(), SIGKILL);
}
