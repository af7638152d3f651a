// An upward include the layering check must refuse.
#include <lanspread/kernel/high/b.hpp>
