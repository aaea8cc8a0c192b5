#ifndef PETREL_CCURL_SHIM_H
#define PETREL_CCURL_SHIM_H
#include <curl/curl.h>
#endif
