/*
 * proto/vv.h — a version vector as a sorted array: per author, a seq.
 *
 * What a position in the alliance's logs is: every record of each author up
 * to its seq.  The daemon's watch stream and catalogctl watch keep one each
 * (daemon/control_watch.c, cli/watch.c).  At most MSG_VV_MAX authors, the
 * protocol's bound on an alliance's authors.
 */
#ifndef PROTO_VV_H
#define PROTO_VV_H

#include <stddef.h>
#include <stdint.h>
#include "proto/record.h"

typedef struct {
    proto_id author;
    uint64_t seq;
} proto_vv_entry;

typedef struct {
    proto_vv_entry *v;     /* sorted by author bytes */
    size_t n, cap;
} proto_vv;

/* The entry of author; with add, one at seq 0 is made when there is none.
 * NULL when absent (add 0), out of memory, or past MSG_VV_MAX authors.
 * An entry's address holds until the next call that adds. */
proto_vv_entry *proto_vv_get(proto_vv *vv, const proto_id *author, int add);
void proto_vv_free(proto_vv *vv);

#endif
