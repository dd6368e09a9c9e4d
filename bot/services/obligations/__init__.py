"""What is owed: facts read from storage and the rules of the seed documents over them."""
