//! The `search` filter of every list (users, invitations, teams): a case-insensitive
//! substring of the stored folded text (see `text`), the same on both databases, and on
//! PostgreSQL a form its trigram indexes can answer.

use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func};

use super::text;

/// The `search` condition shared by users and invites: a case-insensitive substring of the
/// stored search text (see `text`).
pub fn search_condition<C: ColumnTrait>(column: C, query: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::col(column)
        .like(sea_orm::sea_query::LikeExpr::new(text::like_pattern(query)).escape('\\'))
}

/// The `search` condition where PostgreSQL answers it through a trigram index: an email is
/// looked up by its local part alone (see `text::selective_fragment`), and the whole query is
/// then tested with `strpos`, which the index does not see. PostgreSQL only (`strpos`).
pub fn trigram_search_condition<C: ColumnTrait>(column: C, query: &str) -> Condition {
    let folded = text::fold(query);
    match text::selective_fragment(&folded) {
        Some(fragment) if fragment.len() < folded.len() => Condition::all()
            .add(search_condition(column, fragment))
            .add(
                Expr::expr(
                    Func::cust("strpos")
                        .arg(Expr::col((column.entity_name(), column)))
                        .arg(folded.clone()),
                )
                .gt(0),
            ),
        _ => Condition::all().add(search_condition(column, query)),
    }
}
