//! Review in a pull request: propose, `/approve-plan` and `/rollback-plan`, and the gates.
