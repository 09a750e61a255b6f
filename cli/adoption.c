/* cli/adoption.c — catalogctl adoption add|update|withdraw|show|history|list (staff: in Japanese). */
#include "cli/catcmd.h"
#include "cli/verbs.h"

#define V "adoption"

static int add(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "add", argc, argv, NULL);
}

static int update(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, NULL);
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
    { "add", add,
      "キー 認定=団体コード/認定番号 年度=2026 原課=… 契約方法=… [項目=値…] [--strict] [--allow-unknown]",
      "導入実績を登録します。引用する認定はこのノードにあるものに限ります" },
    { "update", update, "キー 項目=値… [--strict] [--allow-unknown]",
      "登録した導入実績の項目を変更します（指定しない項目はそのまま）" },
    { "withdraw", withdraw, "キー --reason 理由",
      "誤って登録した導入実績を取り下げます。履歴には残り、検索と出力からは消えます" },
    { "show", show, "キー [--author 団体コード] [--era] [--json]", "導入実績を表示します" },
    { "history", history, "キー [--author 団体コード] [--era] [--json]",
      "すべての版を古い順に、前の版からの変更（項目: 旧 → 新）とともに表示します" },
    { "list", list, "[--mine] [--fy 年度] [--department 原課] [--route 契約方法] [--member 団体コード] [--era] [--json]",
      "導入実績の一覧（--mine: この団体の導入実績だけ。--fy/--department/--route/--member で絞り込み）" },
};

const client_subverbs adoption_verb = {
    V, subs, sizeof subs / sizeof subs[0],
    "項目: 認定 年度 原課 問合せ先 契約方法 予算科目 金額 期間開始 期間終了 段階 KPI 成果 課題 評価 公開区分"
    "（一覧は catalogctl fields adoption）\n"
    "問合せ先は課名と電話番号です（個人名は書きません）\n"
    "引用した認定が取消・停止されている、または年度・契約期間に有効でなければ警告します。"
    "--strict ならその場合は登録しません\n"
    "--allow-unknown: このノードにまだ届いていない認定を引用して登録します",
    1
};
