#pragma once
// The one place Asio is included from. GCC 12 needs <utility> before <boost/asio/awaitable.hpp>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth {
namespace net = boost::asio;
}  // namespace berth
