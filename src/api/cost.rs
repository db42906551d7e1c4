//! The price of a GraphQL document, computed on the parsed document before
//! anything runs, without expanding fragments.
//!
//! A field costs its weight plus, for a list, its item bound times (the price
//! of one item plus its selection). Each fragment's price is computed once
//! and reused for every spread, so 30 levels of fragments that each spread the
//! previous one twice are priced in 30 steps at 2^30 times one fragment, and
//! refused; a fragment that spreads itself is refused as a cycle. The price is
//! an upper bound of the work and of the response: weights count store reads
//! (a balance is two history seeks and a Pedersen hash, a proof two trie
//! walks), list bounds are the page size (`first`) or the largest such list
//! the served schema can return (introspection lists are measured on the
//! schema itself).
//!
//! A document's price is the sum over its operations and its fragment
//! definitions, so it also bounds the validation async-graphql runs next
//! (which does expand fragments).

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Value, Variables};

use super::paging::{DEFAULT_PAGE, MAX_PAGE};

/// A history seek (storage, nonces, class hash).
pub const READ: u64 = 5;
/// Two history seeks and a Pedersen hash (Starknet), one seek (ZKsync).
pub const BALANCE: u64 = 10;
/// A batch record: audit, L1 record, roots.
pub const BATCH: u64 = 10;
/// Two walks down 251-level tries.
pub const PROOF: u64 = 100;
/// Items of one proof path: about 2·log2(leaves) nodes, so 64 covers any
/// store below 2^32 leaves; the response-size cap catches a rarer longer path.
pub const MAX_PROOF_NODES: u64 = 64;
/// Audit checks of one batch: a few per blob and a few per batch.
pub const MAX_CHECKS: u64 = 64;
/// Nesting of selections and fragment spreads the pricer follows (the parser
/// and the depth limit refuse much less); beyond it the document is refused
/// rather than risk the stack.
pub const MAX_NESTING: usize = 64;

/// Why a document cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// A fragment spreads itself, directly or through other fragments; holds its name.
    #[error("fragment {0} spreads itself (directly or through other fragments)")]
    FragmentCycle(String),
    /// Selections and spreads nest deeper than `MAX_NESTING`.
    #[error("selections and fragment spreads nest more than {MAX_NESTING} deep")]
    TooDeep,
}

/// The largest list of each introspection field in the served schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntrospectionBounds {
    /// Types in `__schema.types`.
    pub types: u64,
    /// Most `fields` of one type.
    pub fields: u64,
    /// Most `args` of one field or directive.
    pub args: u64,
    /// Most `inputFields` of one input type.
    pub input_fields: u64,
    /// Most `enumValues` of one enum.
    pub enum_values: u64,
    /// Most `interfaces` of one type.
    pub interfaces: u64,
    /// Most `possibleTypes` of one union or interface.
    pub possible_types: u64,
    /// Directives in `__schema.directives`.
    pub directives: u64,
    /// Most `locations` of one directive.
    pub locations: u64,
}

/// What a document asks for: its price and the depth of its deepest field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    /// Upper bound of the work, in cost units (see the module docs); saturates at `u64::MAX`.
    pub cost: u64,
    /// Fields on the longest path from an operation to a leaf (leaf
    /// included; fragment spreads add none).
    pub depth: usize,
}

impl Price {
    /// Two selections side by side: their costs add, the deeper one counts.
    fn beside(self, other: Price) -> Price {
        Price {
            cost: self.cost.saturating_add(other.cost),
            depth: self.depth.max(other.depth),
        }
    }

    fn plus(self, cost: u64) -> Price {
        Price {
            cost: self.cost.saturating_add(cost),
            ..self
        }
    }
}

/// The prices of one served schema.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    /// Rollups served (the `rollups` list).
    pub rollups: u64,
    /// Largest introspection lists, measured on the served schema.
    pub introspection: IntrospectionBounds,
}

/// How one field is priced.
struct Rule {
    weight: u64,
    per_item: u64,
    items: Items,
}

enum Items {
    One,
    Bound(u64),
    /// The page size argument `first`.
    Page,
}

impl CostModel {
    /// The price of a whole document: its operations and its fragments.
    pub fn document(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<Price, CostError> {
        let mut walk = Walk::new(self, doc, variables, false);
        let mut total = Price::default();
        for (_, operation) in doc.operations.iter() {
            total = total.beside(walk.set(&operation.node.selection_set.node)?);
        }
        for name in doc.fragments.keys() {
            // A fragment definition is validated as written, so its price
            // counts; its depth counts only where an operation spreads it.
            total = total.plus(walk.fragment(name)?.cost);
        }
        Ok(total)
    }

    /// Root fields of the operation a request runs (every spread counted): a
    /// subscription opens one stream per root field.
    pub fn root_fields(
        &self,
        doc: &ExecutableDocument,
        operation_name: Option<&str>,
    ) -> Result<u64, CostError> {
        let mut walk = Walk::new(self, doc, &EMPTY, true);
        let mut total = 0u64;
        for operation in selected_operations(doc, operation_name) {
            total = total.saturating_add(walk.set(&operation.selection_set.node)?.cost);
        }
        Ok(total)
    }

    /// The item bound of a list field, `None` for a field priced as one value.
    pub fn list_bound(&self, name: &str) -> Option<u64> {
        match self.rule(name).items {
            Items::One => None,
            Items::Bound(n) => Some(n),
            Items::Page => Some(MAX_PAGE as u64),
        }
    }

    fn rule(&self, name: &str) -> Rule {
        let scalar = |weight| Rule {
            weight,
            per_item: 0,
            items: Items::One,
        };
        let list = |bound| Rule {
            weight: 1,
            per_item: 1,
            items: Items::Bound(bound),
        };
        let i = &self.introspection;
        match name {
            "balance" => scalar(BALANCE),
            "storage" | "nonce" | "deploymentNonce" | "classHash" => scalar(READ),
            "proof" => scalar(PROOF),
            "batch" | "sync" => scalar(BATCH),
            "batches" | "findings" => Rule {
                weight: READ,
                per_item: BATCH,
                items: Items::Page,
            },
            "rollups" => list(self.rollups),
            "checks" => list(MAX_CHECKS),
            "contractProof" | "storageProof" | "merklePath" => list(MAX_PROOF_NODES),
            "types" => list(i.types),
            "fields" => list(i.fields),
            "args" => list(i.args),
            "inputFields" => list(i.input_fields),
            "enumValues" => list(i.enum_values),
            "interfaces" => list(i.interfaces),
            "possibleTypes" => list(i.possible_types),
            "directives" => list(i.directives),
            "locations" => list(i.locations),
            _ => scalar(1),
        }
    }
}

static EMPTY: std::sync::LazyLock<Variables> = std::sync::LazyLock::new(Variables::default);

/// The operations a request would run: the named one, or all when unnamed
/// (async-graphql then refuses more than one, after this count).
fn selected_operations<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Vec<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => vec![&op.node],
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| &op.node).into_iter().collect()
        }
        (DocumentOperations::Multiple(ops), None) => ops.values().map(|op| &op.node).collect(),
    }
}

/// One pricing pass; fragments are priced once and remembered.
struct Walk<'d> {
    model: &'d CostModel,
    doc: &'d ExecutableDocument,
    variables: &'d Variables,
    /// `None` while a fragment is being priced: meeting it again is a cycle.
    fragments: HashMap<&'d str, Option<Price>>,
    nesting: usize,
    /// Count the fields of the first level only (subscriptions).
    roots_only: bool,
}

impl<'d> Walk<'d> {
    fn new(
        model: &'d CostModel,
        doc: &'d ExecutableDocument,
        variables: &'d Variables,
        roots_only: bool,
    ) -> Self {
        Walk {
            model,
            doc,
            variables,
            fragments: HashMap::new(),
            nesting: 0,
            roots_only,
        }
    }

    fn set(&mut self, set: &'d SelectionSet) -> Result<Price, CostError> {
        if self.nesting >= MAX_NESTING {
            return Err(CostError::TooDeep);
        }
        self.nesting = self.nesting.saturating_add(1);
        let mut total = Price::default();
        for item in &set.items {
            let price = match &item.node {
                Selection::Field(field) => self.field(&field.node)?,
                // A spread or an inline fragment is one more node to visit.
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?.plus(1)
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node)?.plus(1)
                }
            };
            total = total.beside(price);
        }
        self.nesting = self.nesting.saturating_sub(1);
        Ok(total)
    }

    fn field(&mut self, field: &'d Field) -> Result<Price, CostError> {
        if self.roots_only {
            return Ok(Price { cost: 1, depth: 1 });
        }
        let rule = self.model.rule(field.name.node.as_str());
        let items = match rule.items {
            Items::One => 1,
            Items::Bound(n) => n,
            Items::Page => self.page_size(field),
        };
        let selection = self.set(&field.selection_set.node)?;
        Ok(Price {
            cost: rule
                .weight
                .saturating_add(items.saturating_mul(rule.per_item.saturating_add(selection.cost))),
            depth: selection.depth.saturating_add(1),
        })
    }

    fn fragment(&mut self, name: &'d str) -> Result<Price, CostError> {
        match self.fragments.get(name) {
            Some(Some(price)) => return Ok(*price),
            Some(None) => return Err(CostError::FragmentCycle(name.to_owned())),
            None => {}
        }
        // An unknown fragment is priced at nothing here; validation names it.
        let Some(definition) = self.doc.fragments.get(name) else {
            return Ok(Price::default());
        };
        self.fragments.insert(name, None);
        let price = self.set(&definition.node.selection_set.node)?;
        self.fragments.insert(name, Some(price));
        Ok(price)
    }

    /// `first` as the resolver will read it: default 100; anything it would
    /// refuse is priced at the largest page.
    fn page_size(&self, field: &Field) -> u64 {
        let Some((_, value)) = field
            .arguments
            .iter()
            .find(|(name, _)| name.node == "first")
        else {
            return DEFAULT_PAGE as u64;
        };
        let value = value
            .node
            .clone()
            .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()));
        match value {
            Err(()) | Ok(Value::Null) => DEFAULT_PAGE as u64,
            Ok(Value::Number(n)) => n
                .as_u64()
                .map_or(MAX_PAGE as u64, |n| n.min(MAX_PAGE as u64)),
            Ok(_) => MAX_PAGE as u64,
        }
    }
}
