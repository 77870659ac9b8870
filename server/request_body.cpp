#include "server/request_body.h"

#include <utility>

namespace vesta::server {

core::Result<std::string_view> request_body(const HttpRequest& request,
                                            std::optional<persistence::MappedFile>* mapped) {
  if (request.body_file == nullptr) return std::string_view(request.body);
  core::Result<persistence::MappedFile> opened =
      persistence::MappedFile::open(request.body_file->path);
  if (!opened.is_ok()) return opened.status();
  mapped->emplace(std::move(opened).value());
  return (*mapped)->bytes();
}

}  // namespace vesta::server
