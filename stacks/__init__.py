"""The mesh's stacks; each composes constructs from the constructs/ folder."""
