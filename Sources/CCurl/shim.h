#ifndef PETREL_CCURL_SHIM_H
#define PETREL_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C variadic functions, which Swift
// cannot call. These typed wrappers pass exactly the argument type each option documents
// (long, curl_off_t, char *, void *, struct curl_slist *, or a function pointer).

static inline CURLcode petrel_curl_easy_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode petrel_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode petrel_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode petrel_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode petrel_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
/// For CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION (same signature).
static inline CURLcode petrel_curl_easy_setopt_write_function(CURL *h, CURLoption o, curl_write_callback f) {
    return curl_easy_setopt(h, o, f);
}
/// For CURLOPT_READFUNCTION.
static inline CURLcode petrel_curl_easy_setopt_read_function(CURL *h, curl_read_callback f) {
    return curl_easy_setopt(h, CURLOPT_READFUNCTION, f);
}

static inline CURLcode petrel_curl_easy_setopt_opensocket(CURL *h, curl_opensocket_callback f) {
    return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, f);
}
static inline CURLcode petrel_curl_easy_setopt_closesocket(CURL *h, curl_closesocket_callback f) {
    return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, f);
}

static inline CURLMcode petrel_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return curl_multi_setopt(m, o, v);
}
static inline CURLMcode petrel_curl_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v) {
    return curl_multi_setopt(m, o, v);
}
static inline CURLMcode petrel_curl_multi_setopt_socket_function(CURLM *m, curl_socket_callback f) {
    return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, f);
}
static inline CURLMcode petrel_curl_multi_setopt_timer_function(CURLM *m, curl_multi_timer_callback f) {
    return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, f);
}

static inline CURLcode petrel_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode petrel_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, char **out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode petrel_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *out) {
    return curl_easy_getinfo(h, i, out);
}

// Macros built from other macros or casts that Swift does not import.
static const curl_socket_t petrel_curl_socket_timeout = CURL_SOCKET_TIMEOUT;
static const long petrel_curl_global_default = CURL_GLOBAL_DEFAULT;
static const int petrel_curlpause_cont = CURLPAUSE_CONT;
static const size_t petrel_curl_writefunc_pause = CURL_WRITEFUNC_PAUSE;
static const size_t petrel_curl_readfunc_pause = CURL_READFUNC_PAUSE;
static const size_t petrel_curl_readfunc_abort = CURL_READFUNC_ABORT;
static const int petrel_curlpause_recv = CURLPAUSE_RECV;
static const int petrel_curlpause_send = CURLPAUSE_SEND;
#endif
