// The project's own suite uses its matchers the way a user would: registered once in a setup file.
import 'fake-aws-iot/jest';
