/* `retention report render`: a report as text or one HTML page for compliance sign-off. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "render.h"
#include "report.h"
#include "sign.h"

#define MAX_KEYS 16

static void
help(void)
{
	printf("Usage: retention report render REPORT.json [--format text|html]\n"
	       "                               [--public-key PUB.pem ...] [--out FILE]\n\n"
	       "Renders a report for compliance sign-off: the run, per class the cutoff and the\n"
	       "rows purged, archived, held and undated, the key digests, the holds open and\n"
	       "released, the archive segments, the guards, and the signature's status, checked\n"
	       "now with the --public-key keys (without one it says \"not checked\"). The HTML is\n"
	       "one self-contained page that prints on A4. Default format: text, to stdout.\n"
	       "--help prints this text.\n\n"
	       "Exit status: 0 rendered with a valid signature (or, with no --public-key, a\n"
	       "signature file present but not checked), 1 rendered but the signature is\n"
	       "missing, unknown or invalid, 2 usage error.\n");
}

/* Writes text to path (or stdout for NULL). */
static int
write_out(const char *path, const char *text)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	ret_error err;

	if (f == NULL) {
		ret_fail(&err, RET_USAGE, "%s: cannot create", path);
		return cli_fail(&err);
	}
	fputs(text, f);
	if ((path && fclose(f) != 0) || (!path && fflush(f) != 0)) {
		ret_fail(&err, RET_RUNTIME, "%s: write failed", path ? path : "stdout");
		return cli_fail(&err);
	}
	return RET_EXIT_OK;
}

int
cmd_report(int argc, char **argv)
{
	static const struct option options[] = {{"format", required_argument, NULL, 'f'},
	                                        {"public-key", required_argument, NULL, 'k'},
	                                        {"out", required_argument, NULL, 'o'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	render_format format = RENDER_TEXT;
	const char *out = NULL, *path;
	signing_keyring *ring = NULL;
	report_sig_status sig;
	char sha[65], detail[512];
	char *text = NULL, *rendered = NULL;
	cJSON *root = NULL;
	size_t len = 0;
	ret_error err;
	int c, exit_code = RET_EXIT_OK;
	cli_seen seen = {0};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "render") != 0)
		return cli_usage("report", "unknown action \"%s\" (render)", argv[1]);
	ring = signing_keyring_new();
	if (ring == NULL)
		return RET_EXIT_RUNTIME;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (c != 'k' && cli_repeated("report", options, c, &seen)) {
			exit_code = RET_EXIT_USAGE;
			goto done;
		}
		switch (c) {
		case 'f':
			if (strcmp(optarg, "text") == 0)
				format = RENDER_TEXT;
			else if (strcmp(optarg, "html") == 0)
				format = RENDER_HTML;
			else
				exit_code = cli_usage("report", "--format: text or html, not \"%s\"", optarg);
			break;
		case 'k':
			if (signing_keyring_add(ring, optarg, &err) != RET_OK)
				exit_code = cli_fail(&err);
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			help();
			signing_keyring_free(ring);
			return 0;
		default:
			exit_code = cli_bad_option("report", c, argv + 1);
		}
		if (exit_code != RET_EXIT_OK)
			goto done;
	}
	if (argc - 1 - optind != 1) {
		exit_code = cli_usage("report", "report render takes one report");
		goto done;
	}
	path = argv[optind + 1];

	if (report_read(path, &text, &len, sha, &root, &err) != RET_OK) {
		exit_code = cli_fail(&err);
		goto done;
	}
	if (root == NULL) {
		ret_fail(&err, RET_USAGE, "%s: not valid JSON", path);
		exit_code = cli_fail(&err);
		goto done;
	}
	sig = report_check_signature(path, text, len, root, ring, detail, sizeof(detail));
	rendered = render_report(root, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, sig,
	                         detail, format);
	if (rendered == NULL) {
		ret_fail(&err, RET_RUNTIME, "out of memory");
		exit_code = cli_fail(&err);
		goto done;
	}
	exit_code = write_out(out, rendered);
	if (exit_code == RET_EXIT_OK && sig != REPORT_SIG_VALID && sig != REPORT_SIG_NOT_CHECKED)
		exit_code = RET_EXIT_RUNTIME;

done:
	free(rendered);
	free(text);
	cJSON_Delete(root);
	signing_keyring_free(ring);
	return exit_code;
}
