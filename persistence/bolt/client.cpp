#include "persistence/bolt/client.h"

#include <optional>
#include <utility>

namespace vesta::bolt {

core::Result<QueryResult> Client::run(std::string_view query, const Dictionary& parameters,
                                      const TransactionConfig& config) {
  std::optional<QueryResult> result;
  core::Status status = execute_in_transaction(
      [&](Transaction& transaction) {
        core::Result<QueryResult> records = transaction.run(query, parameters);
        if (!records.is_ok()) return records.status();
        result = std::move(records).value();
        return core::Status::ok();
      },
      config);
  if (!status.is_ok()) return status;
  return std::move(*result);
}

core::Status Client::execute_in_transaction(const std::function<core::Status(Transaction&)>& work,
                                            const TransactionConfig& config) {
  core::Result<ConnectionPool::Lease> lease = pool_.acquire();
  if (!lease.is_ok()) return lease.status();
  Connection& connection = lease.value().connection();
  VESTA_RETURN_IF_ERROR(connection.begin(config));
  Transaction transaction(connection);
  core::Status status = work(transaction);
  if (!status.is_ok()) {
    // A failure inside the transaction has ended it already (rollback is
    // then a no-op); a failure of `work`'s own rolls it back here.
    if (!connection.is_broken()) (void)connection.rollback();
    return status;
  }
  return connection.commit();
}

}  // namespace vesta::bolt
