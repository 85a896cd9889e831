//! [`SyncRender`]: a part of the page that the server writes in one pass, straight into the page.
//!
//! Every page is rendered by Leptos's asynchronous renderer: the page's own view comes from a lazily loaded function
//! and may wait for data. On that path `tachys` renders each element into strings of its own — the opening tag,
//! grown attribute by attribute, and the closing tag — and copies them into the page. The frame around every page
//! (the document's head, the header, the footer) waits for nothing, so it takes the synchronous path instead, which
//! writes into the page's buffer directly: 12 k instructions fewer for the signed-in dashboard (README, "The route
//! table and the page frame"). The HTML is the same either way
//! (`server/tests/it/guards.rs` compares the frame both ways), and in the browser the wrapper changes nothing: it
//! hydrates, builds and updates as the view it wraps.
//!
//! Only for views that wait for nothing: a `<Suspense>` inside one would be written as its fallback.
use std::future::Future;

use leptos::tachys::{
    html::attribute::{any_attribute::AnyAttribute, Attribute},
    hydration::Cursor,
    view::{add_attr::AddAnyAttr, Position, PositionState, Render, RenderHtml},
};

/// `view` rendered on the server's synchronous path (see the module's documentation).
pub struct SyncRender<V>(pub V);

impl<V: Render> Render for SyncRender<V> {
    type State = V::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state)
    }
}

impl<V: AddAnyAttr> AddAnyAttr for SyncRender<V> {
    type Output<SomeNewAttr: Attribute> = SyncRender<V::Output<SomeNewAttr>>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        SyncRender(self.0.add_any_attr(attr))
    }
}

/// Everything is `V`'s except `to_html_async_with_buf`, left to the trait's own version: it calls
/// `to_html_with_buf` on the page's buffer.
impl<V: RenderHtml> RenderHtml for SyncRender<V> {
    type AsyncOutput = SyncRender<V::AsyncOutput>;
    type Owned = SyncRender<V::Owned>;

    const MIN_LENGTH: usize = V::MIN_LENGTH;
    const EXISTS: bool = V::EXISTS;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve()
    }

    fn resolve(self) -> impl Future<Output = Self::AsyncOutput> + Send {
        let resolving = self.0.resolve();
        async move { SyncRender(resolving.await) }
    }

    fn html_len(&self) -> usize {
        self.0.html_len()
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0.to_html_with_buf(buf, position, escape, mark_branches, extra_attrs)
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    fn hydrate_async(self, cursor: &Cursor, position: &PositionState) -> impl Future<Output = Self::State> {
        self.0.hydrate_async(cursor, position)
    }

    fn into_owned(self) -> Self::Owned {
        SyncRender(self.0.into_owned())
    }
}
