#ifndef PETREL_CHIREDIS_SHIM_H
#define PETREL_CHIREDIS_SHIM_H
// hiredis 0.14 async API. The loop integration (ev hooks on a uv_poll_t) is PetrelRedis's own,
// not hiredis's adapters/libuv.h: in 0.14.1 that adapter drops every poll callback whose status
// is non-zero, and libuv reports a socket error (POLLERR: refused connect, RST) exactly that way
// and stops the poll, so the context would hang instead of failing.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <uv.h>

// TCP keepalive on the context's socket, so a half-open link (peer host gone, no RST) is
// noticed even while no command is in flight. Unix sockets have no keepalive: skip them.
static inline int petrel_redis_enable_keepalive(redisAsyncContext *ac) {
    if (ac->c.connection_type != REDIS_CONN_TCP) return REDIS_OK;
    return redisEnableKeepAlive(&ac->c);
}

// libuv's handle "subclasses" share a prefix; Swift cannot upcast them.
static inline uv_handle_t *petrel_redis_poll_as_handle(uv_poll_t *p) { return (uv_handle_t *)p; }
static inline uv_req_t *petrel_redis_getaddrinfo_as_req(uv_getaddrinfo_t *r) { return (uv_req_t *)r; }
#endif
