#pragma once

#include "server/import_jobs.h"
#include "server/router.h"

namespace vesta::server {

// POST /collections/{name}/import (?format=ndjson|binary, ?on_error=skip|abort,
// ?idempotency_key= or an Idempotency-Key header), GET /jobs, GET and
// DELETE /jobs/{id} (docs/api.md "Bulk import"). `jobs` is borrowed.
void add_import_routes(Router& router, ImportJobs& jobs);

// A job as the API shows it.
nlohmann::json import_job_json(const ImportJobInfo& job);

}  // namespace vesta::server
