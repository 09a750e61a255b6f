/* cli/key.c — catalogctl key rotate: a new node key, the same member id. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include "proto/util.h"
#include <stdlib.h>
#include <string.h>

static int usage(void);

static int rotate(client_opts *o, int argc, char **argv)
{
    const char *type = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--type") && i + 1 < argc)
            type = argv[++i];
        else
            return usage();
    }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "key_rotate");
    if (type)
        proto_map_put_str(&r.m, "type", type);
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    char id[PROTO_ID_STR] = "", oldk[PROTO_ID_STR] = "", newk[PROTO_ID_STR] = "";
    uint64_t from = 0;
    proto_map_str(rep, len, "member_id", id, sizeof id);
    proto_map_str(rep, len, "old_key", oldk, sizeof oldk);
    proto_map_str(rep, len, "key", newk, sizeof newk);
    proto_map_u64(rep, len, "from_seq", &from);
    if (o->json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", id, 1);
        client_json_kv_str(stdout, "old_key", oldk, 1);
        client_json_kv_str(stdout, "key", newk, 1);
        client_json_kv_u64(stdout, "from_seq", from, 0);
        printf("}\n");
    } else {
        printf("member id: %s (unchanged)\nold key:   %s (retired)\nnew key:   %s (signs from seq %llu)\n",
               id, oldk, newk, (unsigned long long)from);
    }
    free(rep);
    return CLIENT_OK;
}

static const client_subverb subs[] = {
    { "rotate", rotate, "[--type ed25519|p256|rsa] [--json]",
      "a new node key and certificate, named by a record the old key signs; the member id stays" },
};

const client_subverbs key_verb = { "key", subs, sizeof subs / sizeof subs[0], NULL, 0 };

static int usage(void)
{
    return client_subverbs_usage_error(&key_verb);
}
