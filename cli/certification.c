/* cli/certification.c — catalogctl certification
 * add|update|suspend|revoke|reinstate|withdraw|show|history|list (staff: in Japanese). */
#include "cli/catcmd.h"
#include "cli/verbs.h"

#define V "certification"

static int add(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "add", argc, argv, NULL);
}

static int update(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, NULL);
}

static int suspend(client_opts *o, int argc, char **argv)
{
    return client_cat_status(o, V, V, argc, argv, "停止");
}

static int revoke(client_opts *o, int argc, char **argv)
{
    return client_cat_status(o, V, V, argc, argv, "取消");
}

static int reinstate(client_opts *o, int argc, char **argv)
{
    return client_cat_status(o, V, V, argc, argv, "認定中");
}

static int withdraw(client_opts *o, int argc, char **argv)
{
    return client_cat_withdraw(o, V, V, argc, argv);
}

static int show(client_opts *o, int argc, char **argv)
{
    return client_cat_show(o, V, V, argc, argv);
}

static int history(client_opts *o, int argc, char **argv)
{
    return client_cat_history(o, V, V, argc, argv);
}

static int list(client_opts *o, int argc, char **argv)
{
    return client_cat_list(o, V, V, argc, argv);
}

static const client_subverb subs[] = {
    { "add", add, "認定番号 項目=値… [--strict] [--allow-unknown]",
      "認定を登録します。依拠した認定=団体コード/認定番号 を付けると、その認定から事業者と製品の項目を写します"
      "（指定した項目が優先）" },
    { "update", update, "認定番号 項目=値… [--strict] [--allow-unknown]",
      "登録した認定の項目を変更します（指定しない項目はそのまま）" },
    { "suspend", suspend, "認定番号 [--reason 理由] [--date 日付]",
      "認定を停止・取消・停止解除（認定中に戻す）します。--date は効力の生じる日（既定は今日。和暦も可）" },
    { "revoke", revoke, NULL, NULL },
    { "reinstate", reinstate, NULL, NULL },
    { "withdraw", withdraw, "認定番号 --reason 理由",
      "誤って登録した認定を取り下げます。履歴には残り、検索と出力からは消えます（もう一度 add で登録可）" },
    { "show", show, "認定番号 [--author 団体コード] [--era] [--json]",
      "認定を表示します（第N版、取り下げならその理由）" },
    { "history", history, "認定番号 [--author 団体コード] [--era] [--json]",
      "すべての版を古い順に、各版の状態と前の版からの変更（項目: 旧 → 新）とともに表示します" },
    { "list", list, "[--mine] [--era] [--json]", "認定の一覧（--mine: この団体の認定だけ）" },
};

const client_subverbs certification_verb = {
    V, subs, sizeof subs / sizeof subs[0],
    "項目: 事業者名 法人番号 製品・サービス名 分野 認定日 有効期限 … または company, product, …"
    "（一覧は catalogctl fields）\n"
    "--strict: 依拠した認定が取消・停止されている、または期間外なら登録しません（ふだんは警告だけ）\n"
    "--allow-unknown: このノードにまだ届いていない認定にも依拠して登録します",
    1
};
