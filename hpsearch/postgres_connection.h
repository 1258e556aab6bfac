// The PostgreSQL engine of the study store (libpq): a study is one database on a server that
// every machine of the study can reach, named by a connection URL
// (postgresql://user@host:port/database). The run lock is a session advisory lock, released when
// the coordinator's connection ends — also when it is killed.
#pragma once
#include <memory>
#include <string>

#include "hpsearch/sql.h"

namespace autonet::hpsearch {

// Connects (throws naming the server and libpq's reason). Only URLs that is_server_url accepts.
std::unique_ptr<SqlConnection> connect_postgres(const std::string& url);

// Whether this build has PostgreSQL support (libpq found at configure time).
bool postgres_supported();

}  // namespace autonet::hpsearch
