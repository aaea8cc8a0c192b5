#ifndef PETREL_CLIBUV_SHIM_H
#define PETREL_CLIBUV_SHIM_H
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

// libuv's handle "subclasses" are C structs that share a prefix; Swift cannot upcast them.
static inline uv_stream_t *petrel_tcp_as_stream(uv_tcp_t *t) { return (uv_stream_t *)t; }
static inline uv_handle_t *petrel_tcp_as_handle(uv_tcp_t *t) { return (uv_handle_t *)t; }
static inline uv_handle_t *petrel_stream_as_handle(uv_stream_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *petrel_async_as_handle(uv_async_t *a) { return (uv_handle_t *)a; }
static inline uv_handle_t *petrel_timer_as_handle(uv_timer_t *t) { return (uv_handle_t *)t; }
static inline uv_handle_t *petrel_signal_as_handle(uv_signal_t *s) { return (uv_handle_t *)s; }
static inline uv_tcp_t *petrel_stream_as_tcp(uv_stream_t *s) { return (uv_tcp_t *)s; }
static inline uv_req_t *petrel_getaddrinfo_as_req(uv_getaddrinfo_t *r) { return (uv_req_t *)r; }
/* SOCK_STREAM is an enum constant plus a macro of itself, which some Swift builds fail to import. */
static const int petrel_sock_stream = SOCK_STREAM;

static inline int petrel_set_reuseport(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}

/* One completed connection from a listening socket's queue, non-blocking and close-on-exec;
   -1 with errno EAGAIN when the queue is empty (accept4 needs _GNU_SOURCE, hidden from Swift). */
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
static inline int petrel_accept_pending(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
#endif
