//! The `search` filter of every list (users, invitations, teams): a case-insensitive
//! substring of the stored folded text (see `text`), the same on both databases, and on
//! PostgreSQL a form its trigram indexes can answer.

use sea_orm::ColumnTrait;
use sea_orm::sea_query::{BinOper, Condition, Expr, ExprTrait, Func};

use super::text;

/// The `search` condition shared by users and invites: a case-insensitive substring of the
/// stored search text (see `text`).
pub fn search_condition<C: ColumnTrait>(column: C, query: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::col(column)
        .like(sea_orm::sea_query::LikeExpr::new(text::like_pattern(query)).escape('\\'))
}

/// The `search` condition with its pattern written into the statement instead of bound as a
/// parameter (PostgreSQL only): the connection lets PostgreSQL reuse generic plans
/// (`service::db`), and a generic plan cannot see a bound pattern, so it might read a whole
/// trigram index for a two-letter search that a name-ordered scan answers at once. Written
/// in, the pattern is planned for what it is, and every distinct search is its own prepared
/// statement. sea-query writes the literal with its escaping (`E'…'`); a pattern holding a
/// NUL, which no PostgreSQL text can hold, stays a parameter.
fn inline_search_condition<C: ColumnTrait>(
    column: C,
    query: &str,
) -> sea_orm::sea_query::SimpleExpr {
    let pattern = text::like_pattern(query);
    if pattern.contains('\0') {
        return search_condition(column, query);
    }
    // PostgreSQL's LIKE escapes with a backslash by default, as `like_pattern` writes it.
    Expr::col(column).binary(BinOper::Like, Expr::Constant(pattern.into()))
}

/// The `search` condition where PostgreSQL answers it through a trigram index: an email is
/// looked up by its local part alone (see `text::selective_fragment`), and the whole query is
/// then tested with `strpos`, which the index does not see. PostgreSQL only (`strpos`).
pub fn trigram_search_condition<C: ColumnTrait>(column: C, query: &str) -> Condition {
    let folded = text::fold(query);
    match text::selective_fragment(&folded) {
        Some(fragment) if fragment.len() < folded.len() => Condition::all()
            .add(inline_search_condition(column, fragment))
            .add(
                Expr::expr(
                    Func::cust("strpos")
                        .arg(Expr::col((column.entity_name(), column)))
                        .arg(folded.clone()),
                )
                .gt(0),
            ),
        _ => Condition::all().add(inline_search_condition(column, query)),
    }
}
