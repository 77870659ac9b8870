#pragma once

#include <optional>
#include <string_view>

#include "core/status.h"
#include "persistence/mapped_file.h"
#include "server/http_message.h"

namespace vesta::server {

// The body of `request`: its bytes in memory, or the file the HTTP server
// wrote it to as it arrived (HttpRequest::body_file), mapped into `*mapped`,
// which must outlive the view.
core::Result<std::string_view> request_body(const HttpRequest& request,
                                            std::optional<persistence::MappedFile>* mapped);

}  // namespace vesta::server
