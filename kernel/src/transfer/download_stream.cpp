// Download: the streamed install (download.hpp).
#include "download_internal.hpp"
