#pragma once

#include "importer/import_command.h"
#include "loadgen/http_client.h"

namespace vesta::importer {

// `vesta import --format ndjson|binary`: maps the file, splits it into parts
// that fit --max-import-bytes (ImportSplitter), makes sure the collection
// exists, submits each part as a job (POST /collections/NAME/import), follows
// the jobs (GET /jobs/ID) with an ImportProgress on standard error, and
// prints a summary on standard output. Parts go one job at a time; under
// on_error=skip the next part is uploaded while the one before runs, under
// abort only after it completed, so that nothing past a bad point is
// imported. SIGINT or SIGTERM cancels the submitted jobs (DELETE /jobs/ID)
// and reports what stays imported. Returns the command's exit status (see
// run_import_command).
int run_bulk_import(const ImportOptions& options, const loadgen::HttpEndpoint& endpoint);

}  // namespace vesta::importer
