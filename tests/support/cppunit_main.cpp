// The one main() of every CppUnit test binary: runs every registered suite, prints
// CppUnit's summary ("OK (N)" or the failures) and exits non-zero on any failure.
// An optional argument names one test ("Suite::test") or one suite to run alone.
#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>

#include <iostream>

int main(int argc, char **argv) {
    CppUnit::TestResult controller;
    CppUnit::TestResultCollector collector;
    controller.addListener(&collector);
    CppUnit::BriefTestProgressListener progress;
    controller.addListener(&progress);

    CppUnit::TestRunner runner;
    runner.addTest(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
    try {
        runner.run(controller, argc > 1 ? argv[1] : "");
    } catch (const std::invalid_argument &e) {
        std::cerr << "no test named " << argv[1] << ": " << e.what() << "\n";
        return 2;
    }
    CppUnit::CompilerOutputter outputter(&collector, std::cerr);
    outputter.write();
    return collector.wasSuccessful() ? 0 : 1;
}
