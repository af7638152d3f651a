// The stream provider (stream_provider.hpp).
#include <lanspread/kernel/install/stream_provider.hpp>
